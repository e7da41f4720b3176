// The dedicated-worker half of io.js: FileSystemSyncAccessHandle, which a
// service worker lacks. Writes `size` bytes of 4 MiB buffers; then reads the
// page's File `source` through one BYOB buffer and writes each buffer, once
// without and once with the store's SHA-256 (the same Wasm verifier) on the
// same thread: what a worker doing read, hash and write alone would reach.
import init, { Sha256 } from '../../extension/pkg/cos_wasm.js';

const BUFFER = 4 << 20;

/** Reads `file` through one reused buffer, passing each full (or last) view to `use`. */
async function eachBuffer(file, use) {
  const reader = file.stream().getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(BUFFER);
  for (let done = false; !done; ) {
    let filled = 0;
    while (filled < BUFFER) {
      const read = await reader.read(new Uint8Array(buffer, filled));
      if (read.value) buffer = read.value.buffer;
      if (read.done) {
        done = true;
        break;
      }
      filled += read.value.byteLength;
    }
    if (filled) use(new Uint8Array(buffer, 0, filled));
  }
}

onmessage = async ({ data: { size, source } }) => {
  try {
    await init({ module_or_path: new URL('../../extension/pkg/cos_wasm_bg.wasm', import.meta.url) });
    const dir = await navigator.storage.getDirectory();
    const handle = await (await dir.getFileHandle('io-sync', { create: true })).createSyncAccessHandle();
    const timed = async (fn) => {
      handle.truncate(0);
      const t0 = performance.now();
      await fn();
      handle.flush();
      return performance.now() - t0;
    };
    const buffer = new Uint8Array(BUFFER).fill(9);
    const syncBuffersMs = await timed(() => {
      for (let at = 0; at < size; at += BUFFER) handle.write(buffer, { at });
    });
    const copy = async (hasher) => {
      let at = 0;
      await eachBuffer(source, (view) => {
        hasher?.update(view);
        handle.write(view, { at });
        at += view.length;
      });
      hasher?.finishHex();
    };
    const readWriteMs = await timed(() => copy(null));
    const readHashWriteMs = await timed(() => copy(new Sha256()));
    handle.close();
    postMessage({ syncBuffersMs, readWriteMs, readHashWriteMs });
  } catch (e) {
    postMessage({ error: String(e) });
  }
};
