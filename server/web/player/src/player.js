// The player page: a throwaway X25519 key made by WebCrypto (not extractable: the private
// key never exists as bytes in JavaScript), the view request with the reason, then each
// granted segment fetched, checked and decrypted in a Worker and appended to a
// MediaSource as the playhead nears it (only a window around the playhead is held). The
// viewer's name and the time lie over the picture. Stop, the grant's expiry or any
// refusal ends the picture and forgets the key.
import { identityToRecipient } from "age-encryption";

const TYPE = 'video/mp2t; codecs="avc1.42E01E,mp4a.40.2"';
const root = document.getElementById("player");
const form = document.getElementById("play-form");
const stopButton = document.getElementById("stop");
const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const statusLine = document.getElementById("status");
const problem = document.getElementById("problem");
const recording = root.dataset.recording;
const viewer = root.dataset.viewer;
const timelineBar = document.getElementById("timeline");
const marks = document.getElementById("marks");

// How much decrypted media the MediaSource holds around the playhead. Chromium keeps
// about 150 MB of video per SourceBuffer: 10 minutes at the camera's 4 Mbit/s is twice
// that, so segments are decrypted as the playhead nears them, those long behind it are
// dropped, and a seek back decrypts them again. (A test shrinks the window through
// window.bodycamPlayerWindow to see that on a short recording.)
const WINDOW = { aheadS: 60, behindS: 30 };

// What a test or a benchmark reads: timings and the state, never a key or plaintext.
const stats = { state: "idle", firstFrameMs: null, decrypts: [], error: null, maxBufferedS: 0 };
window.bodycamPlayer = stats;
let view = null;

function style() {
  const stage = video.parentElement;
  Object.assign(stage.style, { position: "relative", width: "fit-content", maxWidth: "100%" });
  // no way out of this page for the picture: no download, picture-in-picture or casting
  video.setAttribute("controlslist", "nodownload noremoteplayback");
  video.disablePictureInPicture = true;
  video.disableRemotePlayback = true;
  Object.assign(video.style, { display: "block", width: "640px", maxWidth: "100%", background: "#000" });
  Object.assign(overlay.style, {
    position: "absolute", left: "0", right: "0", top: "40%", textAlign: "center",
    pointerEvents: "none", color: "rgba(255,255,255,0.55)", font: "bold 1.1em sans-serif",
    textShadow: "0 0 3px #000",
  });
}

function say(text) { statusLine.textContent = text; }

function fail(text) {
  stats.error = text;
  problem.textContent = text;
  problem.hidden = false;
  end(null, "refused");
}

function end(text, state = "stopped") {
  if (view !== null) {
    clearTimeout(view.expiry);
    clearInterval(view.clock);
    view.worker.terminate();  // the key and any plaintext in the worker go with it
    view = null;
    video.pause();
    video.removeAttribute("src");
    video.load();
    overlay.textContent = "";
    stats.state = state;
  }
  stopButton.disabled = true;
  form.querySelector("#play").disabled = false;
  if (text) say(text);
}

function once(target, name) {
  return new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));
}

function decrypt(current, segment, id) {
  return new Promise((resolve, reject) => {
    const listen = (event) => {
      if (event.data.id !== id) return;
      current.worker.removeEventListener("message", listen);
      if (event.data.type === "error") reject(new Error(event.data.error));
      else resolve(event.data);
    };
    current.worker.addEventListener("message", listen);
    current.worker.postMessage({ type: "segment", id, ...segment });
  });
}

function bufferedSeconds(buffer) {
  let total = 0;
  for (let i = 0; i < buffer.buffered.length; i++) total += buffer.buffered.end(i) - buffer.buffered.start(i);
  return total;
}

async function drop(buffer, from, to) {
  buffer.remove(from, to);
  await once(buffer, "updateend");
}

// Append; a full buffer (QuotaExceededError) first lets go of all but the last second
// behind the playhead, then gives up with what to do.
async function append(buffer, data, playhead) {
  if (video.error) {
    throw new Error(`The browser could not play this recording's media (${video.error.message ||
      `media error ${video.error.code}`})`);
  }
  try {
    buffer.appendBuffer(data);
  } catch (err) {
    if (err.name !== "QuotaExceededError") throw err;
    if (playhead - 1 > 0) await drop(buffer, 0, playhead - 1);
    try {
      buffer.appendBuffer(data);
    } catch {
      throw new Error("The browser's media buffer is full even after letting go of what was " +
        "played: close other players or tabs and press play again");
    }
  }
  await once(buffer, "updateend");
  stats.maxBufferedS = Math.max(stats.maxBufferedS, bufferedSeconds(buffer));
}

// Any of `names` on `target`, or `ms` passing (so a stopped view is noticed too).
function anyOf(target, names, ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const name of names) target.removeEventListener(name, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const name of names) target.addEventListener(name, done, { once: true });
  });
}

async function ask(reason) {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]);
  const recipient = await identityToRecipient(pair.privateKey);
  const response = await fetch(`/recordings/${encodeURIComponent(recording)}/view`, {
    method: "POST", cache: "no-store", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
    body: JSON.stringify({ viewer_key: recipient, reason }),
  });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    const why = body && body.error ? body.error + (body.rule ? ` (rule: ${body.rule})` : "")
      : `HTTP ${response.status}`;
    throw new Error(`No view: ${why}`);
  }
  return { key: pair.privateKey, grant: body };
}

function stamp() {
  overlay.textContent = `${viewer} · ${new Date().toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

function clockText(seconds) {
  const whole = Math.max(0, seconds);
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${(whole - minutes * 60).toFixed(1).padStart(4, "0")}`;
}

// The signed manifest's segments, markers and gaps under the picture; `offset` turns
// the manifest's media seconds into the video's time. A marker is a button that seeks.
function drawTimeline(timeline, offset) {
  timelineBar.replaceChildren();
  marks.replaceChildren();
  const segments = timeline.segments.filter((s) => s.start_s !== null && s.end_s !== null);
  if (!timeline.verified || segments.length === 0) {
    marks.append(Object.assign(document.createElement("li"),
      { textContent: "No timeline: the manifest did not verify." }));
    return;
  }
  const first = segments[0].start_s;
  const span = Math.max(segments[segments.length - 1].end_s - first, 0.001);
  const at = (seconds) => `${(100 * (seconds - first)) / span}%`;
  Object.assign(timelineBar.style, { position: "relative", height: "18px", background: "#ccd",
    maxWidth: "640px", margin: "0.3em 0" });
  const piece = (left, width, colour, label) => {
    const part = document.createElement("span");
    Object.assign(part.style, { position: "absolute", top: "0", bottom: "0", left,
      width, background: colour });
    part.title = label;
    timelineBar.append(part);
  };
  for (const s of segments) piece(at(s.start_s), "1px", "#557", `segment ${s.file}`);
  for (const gap of timeline.gaps) {
    const end = gap.end_s === null ? segments[segments.length - 1].end_s : gap.end_s;
    const label = `gap: the ${gap.source} delivered nothing from ${clockText(gap.start_s - first)}` +
      ` to ${gap.end_s === null ? "the end" : clockText(end - first)}`;
    piece(at(gap.start_s), `${(100 * (end - gap.start_s)) / span}%`, "#c33", label);
    marks.append(Object.assign(document.createElement("li"), { textContent: label }));
  }
  timeline.markers.forEach((marker, number) => {
    if (marker.media_s === null) return;
    const label = `Marker ${number + 1} at ${clockText(marker.media_s - first)}` +
      (marker.wall ? ` (${marker.wall})` : "");
    const seek = () => { video.currentTime = offset + marker.media_s; };
    const tick = Object.assign(document.createElement("button"), { type: "button", title: label });
    tick.setAttribute("aria-label", label);
    Object.assign(tick.style, { position: "absolute", top: "-3px", left: at(marker.media_s),
      width: "8px", height: "24px", padding: "0", background: "#fc0", border: "1px solid #000" });
    tick.addEventListener("click", seek);
    timelineBar.append(tick);
    const item = document.createElement("li");
    const go = Object.assign(document.createElement("button"), { type: "button", textContent: label });
    go.addEventListener("click", seek);
    item.append(go);
    marks.append(item);
  });
  if (marks.childElementCount === 0) {
    marks.append(Object.assign(document.createElement("li"),
      { textContent: `No markers and no gaps in ${segments.length} segment(s).` }));
  }
}

async function play(reason) {
  end(null);
  problem.hidden = true;
  stats.state = "asking"; stats.firstFrameMs = null; stats.decrypts = []; stats.error = null;
  const pressed = performance.now();
  if (!window.MediaSource || !MediaSource.isTypeSupported(TYPE)) {
    fail("This browser cannot play MPEG-TS through Media Source Extensions; use Chromium or Chrome");
    return;
  }
  say("Asking the key holder for this view…");
  const { key, grant } = await ask(reason);
  const worker = new Worker("/player/worker.js", { type: "module" });
  worker.postMessage({ type: "key", key });
  const source = new MediaSource();
  const current = { worker, expiry: 0, clock: 0 };
  view = current;
  stopButton.disabled = false;
  form.querySelector("#play").disabled = true;
  current.expiry = setTimeout(() => end("The grant expired: press play again with a reason.",
    "expired"), Math.max(0, (grant.expires - grant.now) * 1000));
  stamp();
  current.clock = setInterval(stamp, 500);
  video.src = URL.createObjectURL(source);
  await once(source, "sourceopen");
  URL.revokeObjectURL(video.src);
  const buffer = source.addSourceBuffer(TYPE);
  video.requestVideoFrameCallback(() => { stats.firstFrameMs = performance.now() - pressed; });
  stats.state = "playing";
  const segments = grant.segments;
  let id = 0;
  let last = -1;
  const load = async (index) => {
    say(`Decrypting segment ${index + 1} of ${segments.length} (${segments[index].file})…`);
    const done = await decrypt(current, segments[index], id++);
    if (view !== current) return false;  // stopped meanwhile
    stats.decrypts.push({ bytes: done.size, ms: done.ms, segment: index });
    // Not where the parser left off: it starts afresh (when "ended", finish() did that).
    if (index !== last + 1 && source.readyState === "open") buffer.abort();
    await append(buffer, done.plain, video.currentTime);
    last = index;
    return view === current;
  };
  // The parser is reset before the source is ended, since an "ended" source refuses
  // abort(); so a segment appended after a seek back from the end (the append reopens the
  // source) also starts a fresh parse. Reopening it first by setting timestampOffset does
  // not work: MPEG-TS marks no end of a segment, so after an append Chromium's parser
  // stays inside one ("PARSING_MEDIA_SEGMENT") and refuses it, which stopped the view.
  const finish = () => {
    buffer.abort();
    source.endOfStream();
  };
  if (!(await load(0))) return;
  const times = grant.timeline.segments;
  const offset = buffer.buffered.start(0) - (times[0]?.start_s ?? 0);
  drawTimeline(grant.timeline, offset);
  video.currentTime = buffer.buffered.start(0);
  video.play().catch(() => say("Press the video's play button to start."));
  const playing = () => say(`Playing ${segments.length} segment(s); the grant ends at ` +
    `${new Date(grant.expires * 1000).toISOString().slice(11, 19)} UTC.`);
  playing();
  const spans = segments.map((segment) => {
    const t = times.find((s) => s.file === segment.file);
    return t && t.start_s !== null && t.end_s !== null ? [offset + t.start_s, offset + t.end_s] : null;
  });
  if (!grant.timeline.verified || spans.includes(null)) {
    // no trustworthy times to place segments by: all of them, in order, as they come
    for (let index = 1; index < segments.length; index++) if (!(await load(index))) return;
    if (source.readyState === "open") finish();
    playing();
    return;
  }
  await follow(current, buffer, source, spans, load, playing, finish);
}

// Keep the segments from the playhead to `aheadS` on decrypted, drop what lies more than
// `behindS` behind it or (after a seek back) more than twice `aheadS` ahead of it, until
// the view ends. The slack ahead keeps a segment just past the window from being dropped
// and decrypted again at once; at most behindS + 2 * aheadS (150 s, ~75 MB at 4 Mbit/s)
// plus a segment stays held.
async function follow(current, buffer, source, spans, load, playing, finish) {
  const window_ = { ...WINDOW, ...(window.bodycamPlayerWindow || {}) };
  const held = (span) => {
    const middle = (span[0] + span[1]) / 2;
    for (let i = 0; i < buffer.buffered.length; i++) {
      if (buffer.buffered.start(i) <= middle && middle <= buffer.buffered.end(i)) return true;
    }
    return false;
  };
  while (view === current) {
    const now = video.currentTime;
    if (buffer.buffered.length) {
      // Whole segments only: a cut inside one takes the rest of its picture group with
      // it. After seeks, what lies far ahead goes too.
      const first = buffer.buffered.start(0);
      const end = buffer.buffered.end(buffer.buffered.length - 1);
      const behind = spans.filter((span) => span[1] <= now - window_.behindS).map((span) => span[1]);
      const ahead = spans.filter((span) => span[0] >= now + 2 * window_.aheadS).map((span) => span[0]);
      const before = Math.max(first, ...behind);
      const after = Math.min(end, ...ahead);
      if (before - first > 0.1) await drop(buffer, first, before);
      if (end - after > 0.1) await drop(buffer, after, end);
      if (view !== current) return;
    }
    const wanted = spans.findIndex((span) => span[1] > now && span[0] < now + window_.aheadS &&
      !held(span));
    if (wanted >= 0) {
      if (!(await load(wanted))) return;
      playing();
      continue;
    }
    // Ended only once everything from the playhead on is held, so that a segment still to
    // come is never taken for the end of the recording.
    if (source.readyState === "open" && spans.every((span) => span[1] <= now || held(span))) finish();
    await anyOf(video, ["timeupdate", "seeking"], 1000);
  }
}

style();
form.addEventListener("submit", (event) => {
  event.preventDefault();
  play(document.getElementById("reason").value).catch((err) => fail(String(err.message || err)));
});
stopButton.addEventListener("click", () => end("Stopped: the key of this view is gone."));
