// SHA-256 of a file the user picked, computed in the page as the file is
// read: files can be GBs, so never whole in memory (crypto.subtle.digest
// would need them so). The hasher is the store's own (cos-core's Verifier,
// through the Wasm binding `Sha256`).

import init, { Sha256 } from '../pkg/cos_wasm.js';

/** Bytes per read; the one buffer is handed back and forth, so nothing piles up for the collector. */
const SLICE_BYTES = 1 << 20;

const wasmReady = init({ module_or_path: chrome.runtime.getURL('extension/pkg/cos_wasm_bg.wasm') });

/**
 * The readers of files being hashed. Chromium garbage-collects a Blob's
 * stream, its pending read included, once nothing reachable refers to it (the
 * suspended function awaiting the read does not count): the read then never
 * settles and the hash never finishes. Held here until the file is read.
 * @type {Set<ReadableStreamBYOBReader>}
 */
const reading = new Set();

/**
 * The file's lowercase hex SHA-256; `progress(bytesRead)` after each slice.
 * @param {Blob} file
 * @param {(bytes: number) => void} [progress]
 */
export async function sha256Hex(file, progress) {
  await wasmReady;
  const hasher = new Sha256();
  const reader = file.stream().getReader({ mode: 'byob' });
  reading.add(reader);
  let buffer = new ArrayBuffer(SLICE_BYTES);
  let read = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done) return hasher.finishHex();
      hasher.update(value);
      read += value.byteLength;
      progress?.(read);
      buffer = value.buffer;
    }
  } catch (e) {
    hasher.free();
    throw e;
  } finally {
    reading.delete(reader);
  }
}
