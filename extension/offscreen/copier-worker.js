// Reads a Blob once into a few pooled buffers; writes each into the
// temporary file with a SyncAccessHandle, then transfers it to the document
// to be hashed (it comes back to be reused). See copier.js.

import { fill } from './fill.js';

/** Bytes per buffer (16 MiB measured fastest here: 4 MiB ~235 MB/s, 16 MiB ~270-290, 32 MiB ~240). */
const BUFFER_BYTES = 16 << 20;
/** Buffers in use at once: one being read and written while the other is hashed. */
const BUFFERS = 2;

/** @type {ArrayBuffer[]} */
const pool = [];
/** @type {((value?: unknown) => void) | null} */
let wake = null;
let cancelled = false;
/** Readers in use: Chromium collects a Blob stream nothing refers to, its pending read with it. */
const reading = new Set();

/** To the document (a dedicated worker's postMessage, which the DOM typings do not describe). */
const post = (/** @type {unknown} */ message, /** @type {Transferable[]} */ transfer = []) =>
  /** @type {any} */ (self).postMessage(message, transfer);

const settle = () => {
  wake?.();
  wake = null;
};

async function takeBuffer() {
  while (!pool.length && !cancelled) await new Promise((resolve) => (wake = resolve));
  if (cancelled) throw new DOMException('the write was abandoned', 'AbortError');
  return /** @type {ArrayBuffer} */ (pool.pop());
}

/** Waits until every buffer is back: the document has hashed all that was written. */
async function allBack() {
  while (pool.length < BUFFERS && !cancelled) await new Promise((resolve) => (wake = resolve));
  if (cancelled) throw new DOMException('the write was abandoned', 'AbortError');
}

/**
 * @param {{session: string, blob: Blob}} job
 */
async function copy({ session, blob }) {
  /** @type {FileSystemSyncAccessHandle | null} */
  let handle = null;
  const reader = blob.stream().getReader({ mode: 'byob' });
  reading.add(reader);
  let outcome;
  try {
    for (let i = 0; i < BUFFERS; i++) pool.push(new ArrayBuffer(BUFFER_BYTES));
    const tmp = await (await navigator.storage.getDirectory()).getDirectoryHandle('tmp');
    handle = await (await tmp.getFileHandle(session)).createSyncAccessHandle();
    handle.truncate(0);
    let at = 0;
    for (let done = false; !done; ) {
      let buffer, filled;
      ({ buffer, filled, done } = await fill(reader, await takeBuffer()));
      if (!filled) {
        pool.push(buffer);
        break;
      }
      const wrote = handle.write(new Uint8Array(buffer, 0, filled), { at });
      if (wrote !== filled) throw new DOMException(`wrote ${wrote} of ${filled} bytes`, 'InvalidStateError');
      at += filled;
      post({ buffer, length: filled }, [buffer]);
    }
    await allBack();
    handle.flush();
    outcome = { written: at };
  } catch (e) {
    reader.cancel().catch(() => {});
    const error = /** @type {DOMException} */ (e);
    outcome = { error: { name: error.name || 'UnknownError', message: error.message } };
  } finally {
    reading.delete(reader);
    // Closed before answering: the file is free for the service worker again.
    handle?.close();
  }
  post(outcome);
}

onmessage = ({ data }) => {
  if (data.back) {
    pool.push(data.back);
    settle();
  } else if (data.cancel) {
    cancelled = true;
    settle();
  } else {
    copy(data);
  }
};
