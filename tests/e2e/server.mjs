// One HTTP server for every test origin: *.test names all resolve to
// 127.0.0.1 (--host-resolver-rules), so the Host header picks the origin.
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
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

/** A WebAssembly module exporting inc(i32) -> i32 (adds one). */
export const INC_WASM = Buffer.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type 0: (i32) -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x07, 0x07, 0x01, 0x03, 0x69, 0x6e, 0x63, 0x00, 0x00, // export "inc" = function 0
  0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x41, 0x01, 0x6a, 0x0b, // local.get 0; i32.const 1; i32.add
]);

/** A classic script that counts its runs in `window.libRuns[seed]`: different bytes per seed. */
export const libScript = (seed) => `(window.libRuns ??= {})[${Number(seed)}] = (window.libRuns[${Number(seed)}] ?? 0) + 1;\n`;

/** SRI metadata (`sha256-<base64>`) of `bytes`. */
export const integrityOf = (bytes) => `sha256-${createHash('sha256').update(bytes).digest('base64')}`;

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
  /** Every request, in order: `{host, path, method}` (path with its query). */
  const requests = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    requests.push({ host: req.headers.host?.split(':')[0], path: req.url, method: req.method });
    if (url.pathname === '/inc.wasm') {
      res.writeHead(200, { 'content-type': 'application/wasm', 'access-control-allow-origin': '*' });
      return res.end(INC_WASM);
    }
    if (url.pathname === '/lib.js') {
      res.writeHead(200, { 'content-type': 'text/javascript', 'access-control-allow-origin': '*' });
      return res.end(libScript(url.searchParams.get('seed')));
    }
    if (url.pathname === '/declarative.html') {
      // A parser-inserted <script> with the attribute: ?seed=N&scope=<attribute value>.
      const src = `/lib.js?seed=${Number(url.searchParams.get('seed'))}`;
      const integrity = integrityOf(libScript(url.searchParams.get('seed')));
      const scope = (url.searchParams.get('scope') ?? '').replace(/[^\w*:/. -]/g, '');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return res.end(
        `<!doctype html><meta charset="utf-8"><title>declarative</title><script src="/helpers.js"></script>\n` +
          `<script src="${src}" integrity="${integrity}" crossoriginstorage="${scope}"></script>\n`,
      );
    }
    if (url.pathname === '/bytes') {
      const size = Number(url.searchParams.get('size'));
      const seed = Number(url.searchParams.get('seed') ?? 0);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'access-control-allow-origin': '*' });
      // Streamed in 64 KiB pieces, as a network response would arrive. The
      // pattern repeats every 256 bytes, so every piece is the same one.
      const piece = patternBytes(65536, seed);
      for (let off = 0; off < size; off += 65536) {
        if (!res.write(piece.subarray(0, Math.min(65536, size - off)))) await new Promise((r) => res.once('drain', r));
      }
      return res.end();
    }
    const name = url.pathname === '/' ? 'page.html' : normalize(url.pathname).replace(/^\/+/, '');
    try {
      let body = await readFile(join(PAGES, name));
      const headers = { 'content-type': TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream' };
      if (name.endsWith('.html')) {
        // Pages say what to send with them: `pp` (Permissions-Policy), `ao`
        // (Cross-Origin-Storage-Allow-Origin), `csp` (Content-Security-Policy), and iframes (`frame`, with the
        // `allow` of the same rank; an empty one is no attribute).
        const pp = url.searchParams.get('pp');
        const ao = url.searchParams.get('ao');
        const csp = url.searchParams.get('csp');
        if (pp !== null) headers['permissions-policy'] = pp;
        if (ao !== null) headers['cross-origin-storage-allow-origin'] = ao;
        if (csp !== null) headers['content-security-policy'] = csp;
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
    requests,
    origin: (host) => `http://${host}:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
