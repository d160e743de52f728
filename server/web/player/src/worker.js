// The player's Web Worker: fetches one granted segment's ciphertext, checks its SHA-256
// against the hash the camera signed in the manifest (the key holder checked the grant's
// hashes against that manifest), and only then decrypts it with this view's throwaway
// key (typage, the age author's implementation). Plaintext leaves only to the page's
// MediaSource, by transfer; nothing is written anywhere.
import { Decrypter } from "age-encryption";

let decrypter = null;

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function refusal(response, file) {
  let why = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    why = body.error + (body.rule ? ` (rule: ${body.rule})` : "");
  } catch { /* not JSON: the status says enough */ }
  return new Error(`the server did not send segment ${file}: ${why}`);
}

async function segment(m) {
  const response = await fetch(m.url, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw await refusal(response, m.file);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const digest = hex(await crypto.subtle.digest("SHA-256", bytes));
  if (digest !== m.sha256) {
    throw new Error(`segment ${m.file} is not what the camera signed (sha256 ${digest}, ` +
      `the signed manifest says ${m.sha256}): refused before decrypting. ` +
      "Report it: the stored copy is damaged or was changed");
  }
  const header = fromBase64(m.header);
  const file = new Uint8Array(header.length + bytes.length - m.header_bytes);
  file.set(header);
  file.set(bytes.subarray(m.header_bytes), header.length);
  const started = performance.now();
  let plain;
  try {
    plain = await decrypter.decrypt(file);
  } catch (err) {
    throw new Error(`segment ${m.file} does not open with this view's key ` +
      `(${err.message || err}): its new header was not made for this browser's key ` +
      "(changed on the way?) or the segment is damaged. Press play again");
  }
  const ms = performance.now() - started;
  const copy = plain.slice();  // its own buffer, so the transfer moves exactly it
  return { plain: copy.buffer, ms, size: bytes.length };
}

self.onmessage = async (event) => {
  const m = event.data;
  if (m.type === "key") {
    decrypter = new Decrypter();
    decrypter.addIdentity(m.key);
    return;
  }
  if (m.type !== "segment") return;
  try {
    if (decrypter === null) throw new Error("no key for this view");
    const done = await segment(m);
    self.postMessage({ type: "plain", id: m.id, ...done }, [done.plain]);
  } catch (err) {
    self.postMessage({ type: "error", id: m.id, error: String(err && err.message || err) });
  }
};
