// The player page: a throwaway X25519 key made by WebCrypto (not extractable: the private
// key never exists as bytes in JavaScript), the view request with the reason, then each
// granted segment fetched, checked and decrypted in a Worker and appended to a
// MediaSource. The viewer's name and the time lie over the picture. Stop, the grant's
// expiry or any refusal ends the picture and forgets the key.
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

// What a test or a benchmark reads: timings and the state, never a key or plaintext.
const stats = { state: "idle", firstFrameMs: null, decrypts: [], error: null };
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

async function append(buffer, data) {
  buffer.appendBuffer(data);
  await once(buffer, "updateend");
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
  let id = 0;
  for (const segment of grant.segments) {
    say(`Decrypting segment ${id + 1} of ${grant.segments.length} (${segment.file})…`);
    const done = await decrypt(current, segment, id++);
    if (view !== current) return;  // stopped meanwhile
    stats.decrypts.push({ bytes: done.size, ms: done.ms });
    await append(buffer, done.plain);
    if (id === 1) {
      drawTimeline(grant.timeline, buffer.buffered.start(0) - (grant.timeline.segments[0]?.start_s ?? 0));
      video.currentTime = buffer.buffered.start(0);
      video.play().catch(() => say("Press the video's play button to start."));
    }
  }
  if (view === current && source.readyState === "open") source.endOfStream();
  say(`Playing ${grant.segments.length} segment(s); the grant ends at ` +
    `${new Date(grant.expires * 1000).toISOString().slice(11, 19)} UTC.`);
}

style();
form.addEventListener("submit", (event) => {
  event.preventDefault();
  play(document.getElementById("reason").value).catch((err) => fail(String(err.message || err)));
});
stopButton.addEventListener("click", () => end("Stopped: the key of this view is gone."));
