// One handed session's temporary file (see copier.js): holds it with a
// SyncAccessHandle and performs the session's operations in order. Every
// buffer it writes, and what the file held when it was handed over, goes to
// the document to be digested (pooled buffers come back to be reused).
// Once an operation fails, every later one fails the same way, so a failed
// write cannot go unnoticed by the close after it.

import { fill } from './fill.js';

/** Bytes per pooled buffer (16 MiB measured fastest here: 4 MiB ~235 MB/s, 16 MiB ~270-290, 32 MiB ~240). */
const BUFFER_BYTES = 16 << 20;
/** Pooled buffers: one being read and written while the other is digested. */
const BUFFERS = 2;

/** @type {ArrayBuffer[]} */
const pool = [];
let pooled = 0;
/** @type {((value?: unknown) => void) | null} */
let wake = null;
let cancelled = false;
/** @type {FileSystemSyncAccessHandle | null} */
let handle = null;
/** @type {DOMException | null} */
let failure = null;
let queue = Promise.resolve();
/** Readers in use: Chromium collects a Blob stream nothing refers to, its pending read with it. */
const reading = new Set();

/** To the document (a dedicated worker's postMessage, which the DOM typings do not describe). */
const post = (/** @type {unknown} */ message, /** @type {Transferable[]} */ transfer = []) =>
  /** @type {any} */ (self).postMessage(message, transfer);

const settle = () => {
  wake?.();
  wake = null;
};

const abandoned = () => new DOMException('the write was abandoned', 'AbortError');

async function takeBuffer() {
  if (pooled < BUFFERS && !pool.length) {
    pooled++;
    return new ArrayBuffer(BUFFER_BYTES);
  }
  while (!pool.length && !cancelled) await new Promise((resolve) => (wake = resolve));
  if (cancelled) throw abandoned();
  return /** @type {ArrayBuffer} */ (pool.pop());
}

/**
 * Sends a written buffer to be digested, or keeps it for the next read.
 * @param {ArrayBuffer} buffer
 * @param {number} length
 * @param {boolean} digest
 */
function digested(buffer, length, digest) {
  if (digest) post({ hashed: buffer, length, pooled: true }, [buffer]);
  else pool.push(buffer);
}

/** @returns {FileSystemSyncAccessHandle} */
function file() {
  if (!handle) throw new DOMException('the file is not open', 'InvalidStateError');
  return handle;
}

/**
 * @param {Uint8Array} bytes
 * @param {number} at
 */
function writeAt(bytes, at) {
  const wrote = file().write(bytes, { at });
  if (wrote !== bytes.byteLength) throw new DOMException(`wrote ${wrote} of ${bytes.byteLength} bytes`, 'InvalidStateError');
}

/**
 * Opens tmp/`session` and digests its first `size` bytes (written before it was handed over).
 * @param {string} session
 * @param {number} size
 */
async function take(session, size) {
  const tmp = await (await navigator.storage.getDirectory()).getDirectoryHandle('tmp');
  handle = await (await tmp.getFileHandle(session)).createSyncAccessHandle();
  for (let at = 0; at < size; ) {
    const buffer = await takeBuffer();
    const read = handle.read(new Uint8Array(buffer, 0, Math.min(BUFFER_BYTES, size - at)), { at });
    if (read === 0) throw new DOMException(`the file ends at ${at} of ${size} bytes`, 'InvalidStateError');
    digested(buffer, read, true);
    at += read;
  }
}

/**
 * Copies `blob` into the file at `at`, reading it once into pooled buffers.
 * @param {Blob} blob
 * @param {number} at
 * @param {boolean} digest
 */
async function copyBlob(blob, at, digest) {
  const reader = blob.stream().getReader({ mode: 'byob' });
  reading.add(reader);
  try {
    for (let done = false; !done; ) {
      let buffer, filled;
      ({ buffer, filled, done } = await fill(reader, await takeBuffer()));
      if (cancelled) throw abandoned();
      if (filled) writeAt(new Uint8Array(buffer, 0, filled), at);
      at += filled;
      digested(buffer, filled, digest && filled > 0);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    throw e;
  } finally {
    reading.delete(reader);
  }
}

/** @param {any} op */
async function perform(op) {
  if (op.op === 'discard') {
    handle?.close();
    handle = null;
    return;
  }
  if (failure) throw failure;
  if (cancelled) throw abandoned();
  switch (op.op) {
    case 'take':
      return take(op.session, op.size);
    case 'write':
      if (op.data instanceof Blob) return copyBlob(op.data, op.at, op.digest);
      writeAt(new Uint8Array(op.data), op.at);
      if (op.digest) post({ hashed: op.data, length: op.data.byteLength, pooled: false }, [op.data]);
      return;
    case 'truncate':
      return file().truncate(op.size);
    case 'close':
      file().flush();
      file().close();
      handle = null;
      return;
    default:
      throw new DOMException(`unknown operation ${op.op}`, 'NotSupportedError');
  }
}

onmessage = ({ data }) => {
  if (data.back) {
    pool.push(data.back);
    settle();
  } else if (data.cancel) {
    cancelled = true;
    settle();
  } else {
    queue = queue.then(async () => {
      try {
        await perform(data);
        post({ id: data.id, ok: true });
      } catch (e) {
        const error = /** @type {DOMException} */ (e);
        failure ??= new DOMException(error.message, error.name || 'UnknownError');
        post({ id: data.id, ok: false, name: failure.name, message: failure.message });
      }
    });
  }
};
