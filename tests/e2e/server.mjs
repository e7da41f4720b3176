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

const escapeAttribute = (s) => s.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');

/**
 * The path of a test page on the server, with what it is sent with:
 * `{pp, ao, frames: [{src, allow}]}` (see startServer).
 */
export function pagePath({ pp, ao, frames = [] } = {}, path = '/page.html') {
  const params = new URLSearchParams();
  if (pp !== undefined) params.set('pp', pp);
  if (ao !== undefined) params.set('ao', ao);
  for (const { src, allow = '' } of frames) {
    params.append('frame', src);
    params.append('allow', allow);
  }
  const query = params.toString();
  return query ? `${path}?${query}` : path;
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
      let body = await readFile(join(PAGES, name));
      const headers = { 'content-type': TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' };
      if (name.endsWith('.html')) {
        // Pages say what to send with them: `pp` (Permissions-Policy), `ao`
        // (Cross-Origin-Storage-Allow-Origin), and iframes (`frame`, with the
        // `allow` of the same rank; an empty one is no attribute).
        const pp = url.searchParams.get('pp');
        const ao = url.searchParams.get('ao');
        if (pp !== null) headers['permissions-policy'] = pp;
        if (ao !== null) headers['cross-origin-storage-allow-origin'] = ao;
        const allows = url.searchParams.getAll('allow');
        const frames = url.searchParams.getAll('frame').map((src, i) => {
          const allow = allows[i] ? ` allow="${escapeAttribute(allows[i])}"` : '';
          return `<iframe src="${escapeAttribute(src)}"${allow}></iframe>`;
        });
        body = Buffer.concat([body, Buffer.from(frames.join('\n'))]);
        // Each navigation reaches the server, so each document has its own response.
        headers['cache-control'] = 'no-cache';
      }
      res.writeHead(200, headers);
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
