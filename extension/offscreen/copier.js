// The offscreen document that performs `copy-blob` steps for the service
// worker (extension/worker/copier.js): a dedicated worker (copier-worker.js)
// reads the Blob once and writes each buffer into the temporary file with a
// SyncAccessHandle, which a service worker lacks, then hands the buffer here,
// where it is hashed with the store's own SHA-256 and handed back. Two threads
// share the work, and what is hashed is exactly what was written. It decides
// nothing: the engine compares the digest and commits or refuses.

import init, { Sha256 } from '../pkg/cos_wasm.js';

/** Bytes of the file's start the engine labels its kind from (cos-core `sniff::SNIFF_BYTES`). */
const HEAD_BYTES = 16;

const wasmReady = init({ module_or_path: chrome.runtime.getURL('extension/pkg/cos_wasm_bg.wasm') });

/** The worker of each copy in progress, by session. */
const copies = new Map();

/**
 * Copies `blob` into tmp/`session`: `{ok: true, sha256, head}`, or
 * `{ok: false, name, message}`.
 * @param {string} session
 * @param {Blob} blob
 */
async function copy(session, blob) {
  await wasmReady;
  const worker = new Worker(new URL('copier-worker.js', import.meta.url), { type: 'module' });
  copies.set(session, worker);
  const hasher = new Sha256();
  /** @type {number[] | null} */
  let head = null;
  try {
    const written = await new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => {
        if (data.buffer) {
          const view = new Uint8Array(data.buffer, 0, data.length);
          head ??= [...view.subarray(0, HEAD_BYTES)];
          hasher.update(view);
          worker.postMessage({ back: data.buffer }, [data.buffer]);
        } else if (data.error) {
          reject(new DOMException(data.error.message, data.error.name));
        } else {
          resolve(data.written);
        }
      };
      worker.onerror = (event) => reject(new DOMException(event.message || 'the copier failed', 'UnknownError'));
      worker.postMessage({ session, blob });
    });
    if (written !== blob.size) throw new DOMException(`${written} of ${blob.size} bytes were written`, 'InvalidStateError');
    return { ok: true, sha256: hasher.finishHex(), head: head ?? [] };
  } catch (e) {
    hasher.free();
    const error = /** @type {DOMException} */ (e);
    return { ok: false, name: error.name || 'UnknownError', message: error.message };
  } finally {
    copies.delete(session);
    worker.terminate();
  }
}

chrome.runtime.onMessage.addListener((message, sender, reply) => {
  // Only the extension's own contexts, never a content script (which has a tab).
  if (sender.id !== chrome.runtime.id || sender.tab) return false;
  if (message?.copier === 'copy') {
    copy(message.session, message.blob).then(reply);
    return true;
  }
  if (message?.copier === 'cancel') copies.get(message.session)?.postMessage({ cancel: true });
  return false;
});
