// The deterministic bytes every test, demo check and benchmark agrees on:
// byte i of the stream for `seed` is (i * 31 + seed) & 255 (the page side's
// copy is tests/e2e/pages/helpers.js, which runs in the browser). The pattern
// repeats every 256 bytes, so one precomputed piece serves any offset that is
// a multiple of 256.
import { createHash } from 'node:crypto';

const PIECE = 64 << 10;

/** `size` pattern bytes for `seed`, starting at stream offset `offset`. */
export function patternBytes(size, seed = 0, offset = 0) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = ((offset + i) * 31 + seed) & 255;
  return out;
}

/** SHA-256 hex of the first `size` pattern bytes for `seed`. */
export function patternHash(size, seed = 0) {
  const piece = patternBytes(PIECE, seed);
  const hash = createHash('sha256');
  for (let off = 0; off < size; off += PIECE) hash.update(piece.subarray(0, Math.min(PIECE, size - off)));
  return hash.digest('hex');
}

/**
 * Answers an HTTP request with `size` pattern bytes for `seed`, streamed in
 * 64 KiB pieces as a network response arrives, honouring back-pressure.
 */
export async function sendPattern(res, size, seed = 0, headers = {}) {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, ...headers });
  const piece = patternBytes(PIECE, seed & 255);
  for (let off = 0; off < size; off += PIECE) {
    if (!res.write(piece.subarray(0, Math.min(PIECE, size - off)))) await new Promise((r) => res.once('drain', r));
  }
  res.end();
}
