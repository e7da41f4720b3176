// One HTTP server for every test origin: *.test names all resolve to
// 127.0.0.1 (--host-resolver-rules), so the Host header picks the origin.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';

const PAGES = new URL('./pages/', import.meta.url).pathname;
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript' };

/** Deterministic bytes so tests can hash them independently: byte i = (i * 31 + seed) & 255. */
export function patternBytes(size, seed = 0, offset = 0) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = ((offset + i) * 31 + seed) & 255;
  return out;
}

export async function startServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/bytes') {
      const size = Number(url.searchParams.get('size'));
      const seed = Number(url.searchParams.get('seed') ?? 0);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'access-control-allow-origin': '*' });
      // Streamed in 64 KiB pieces, as a network response would arrive.
      for (let off = 0; off < size; off += 65536) {
        const piece = patternBytes(Math.min(65536, size - off), seed, off);
        if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      }
      return res.end();
    }
    const name = url.pathname === '/' ? 'page.html' : normalize(url.pathname).replace(/^\/+/, '');
    try {
      const body = await readFile(join(PAGES, name));
      res.writeHead(200, { 'content-type': TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    origin: (host) => `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
