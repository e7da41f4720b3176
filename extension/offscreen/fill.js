// Filling a buffer from a BYOB reader: each read takes the buffer over and
// hands it back (detached and replaced), so the caller keeps only what this
// returns.

/**
 * Reads into `buffer` until it is full or the stream ends: the buffer (as
 * the reads handed it back), the bytes in it, and whether the stream ended.
 * @param {ReadableStreamBYOBReader} reader
 * @param {ArrayBuffer} buffer
 * @returns {Promise<{buffer: ArrayBuffer, filled: number, done: boolean}>}
 */
export async function fill(reader, buffer) {
  let filled = 0;
  while (filled < buffer.byteLength) {
    const read = await reader.read(new Uint8Array(buffer, filled));
    // Empty, but still the buffer, when the stream ended.
    if (read.value) buffer = /** @type {ArrayBuffer} */ (read.value.buffer);
    if (read.done) return { buffer, filled, done: true };
    filled += read.value.byteLength;
  }
  return { buffer, filled, done: false };
}
