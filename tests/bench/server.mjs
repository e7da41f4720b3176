// HTTP server for scripts/bench: the benchmark page on every *.test host and
// /bytes?size=N&seed=S with the same deterministic bytes as tests/e2e/server.mjs
// (byte i = (i * 31 + seed) & 255), served from a precomputed buffer so the
// server is never the bottleneck.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const DIR = new URL('./', import.meta.url).pathname;
const FILES = { '/bench.html': 'text/html; charset=utf-8', '/bench-page.js': 'text/javascript' };
const PIECE = 1 << 20; // a multiple of the pattern's 256-byte period

function pattern(seed, size = PIECE) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

/** SHA-256 hex of the `size` pattern bytes for `seed`. */
export function patternHash(size, seed) {
  const piece = pattern(seed);
  const h = createHash('sha256');
  for (let off = 0; off < size; off += PIECE) h.update(size - off >= PIECE ? piece : piece.subarray(0, size - off));
  return h.digest('hex');
}

export async function startBenchServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/bytes') {
      const size = Number(url.searchParams.get('size'));
      const piece = pattern(Number(url.searchParams.get('seed') ?? 0) & 255, 64 << 10);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      for (let off = 0; off < size; off += piece.length) {
        if (!res.write(piece.subarray(0, Math.min(piece.length, size - off)))) await new Promise((r) => res.once('drain', r));
      }
      return res.end();
    }
    const path = url.pathname === '/' ? '/bench.html' : url.pathname;
    if (!FILES[path]) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': FILES[path] });
    res.end(await readFile(DIR + path.slice(1)));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    origin: (host) => `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
