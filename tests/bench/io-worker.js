// The dedicated-worker half of io.js: FileSystemSyncAccessHandle, which a
// service worker lacks. Writes `size` bytes of 4 MiB buffers; then reads the
// page's File `source` through one BYOB buffer and writes each buffer, once
// without and once with the store's SHA-256 (the same Wasm verifier) on the
// same thread: what a worker doing read, hash and write alone would reach;
// then once more with the hashing on the page's thread, each buffer
// transferred there after it is written and back once hashed (a pool of
// three): what splitting the work over two threads would reach.
import init, { Sha256 } from '../../extension/pkg/cos_wasm.js';
import { fill } from '../../extension/offscreen/fill.js';

const BUFFER = 4 << 20;

/** Buffers back from the page's hasher, and the reader waiting for one. */
const pool = [];
let poolWaiter = null;
const giveBack = (buffer) => {
  pool.push(buffer);
  poolWaiter?.();
};
async function pooled() {
  while (!pool.length) await new Promise((resolve) => (poolWaiter = resolve));
  return pool.pop();
}
const freshBuffer = async () => new ArrayBuffer(BUFFER);

/**
 * Reads `file` through buffers, passing each full (or last) view to `use`,
 * which returns true if it kept the buffer; else the next read reuses it,
 * and only then is one asked of `next` (a new one, or from the pool). Returns
 * the buffer it holds at the end.
 */
/** Readers in use: Chromium collects a Blob stream nothing refers to, its pending read with it. */
const reading = new Set();

async function eachBuffer(file, use, next) {
  const reader = file.stream().getReader({ mode: 'byob' });
  reading.add(reader);
  try {
    return await readEach(reader, use, next);
  } finally {
    reading.delete(reader);
  }
}

async function readEach(reader, use, next) {
  let spare = null;
  for (let done = false; !done; ) {
    let buffer, filled;
    ({ buffer, filled, done } = await fill(reader, spare ?? (await next())));
    spare = null;
    if (!filled || !use(new Uint8Array(buffer, 0, filled))) spare = buffer;
  }
  return spare;
}

onmessage = ({ data }) => (data.back ? giveBack(data.back) : run(data));

async function run({ size, source }) {
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
      await eachBuffer(
        source,
        (view) => {
          hasher?.update(view);
          handle.write(view, { at });
          at += view.length;
          return false;
        },
        freshBuffer,
      );
      hasher?.finishHex();
    };
    const readWriteMs = await timed(() => copy(null));
    const readHashWriteMs = await timed(() => copy(new Sha256()));
    for (let i = 0; i < 3; i++) pool.push(new ArrayBuffer(BUFFER));
    const splitMs = await timed(async () => {
      let at = 0;
      const left = await eachBuffer(
        source,
        (view) => {
          handle.write(view, { at });
          at += view.length;
          postMessage({ hash: view.buffer, length: view.length }, [view.buffer]);
          return true;
        },
        pooled,
      );
      if (left) giveBack(left);
      // The page answers every buffer in order: all back means all hashed.
      while (pool.length < 3) await new Promise((resolve) => (poolWaiter = resolve));
    });
    handle.close();
    postMessage({ syncBuffersMs, readWriteMs, readHashWriteMs, splitMs });
  } catch (e) {
    postMessage({ error: String(e) });
  }
}
