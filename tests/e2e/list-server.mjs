// A Public Hash List server for the tests: serves whatever list (and
// `.sha256` sidecar) a test puts at a path, on 127.0.0.1 (a loopback URL,
// which the extension accepts over plain http), with CORS as a static file
// host would send it. Logs every request.
import { createServer } from 'node:http';
import { listen } from '../../scripts/lib/serve.mjs';
import { formatPublicHashList, sidecar } from '../../scripts/lib/public-hash-list.mjs';

/**
 * A list in the spec's format: `hashes` (hex) in the Hugging Face section,
 * `core` in the core section.
 */
export function listText(version, hashes, core = []) {
  const entries = (list) => list.map((hash, i) => ({ hash, source: `test file ${i}` }));
  return formatPublicHashList({
    header: ['A Public Hash List served by tests/e2e/list-server.mjs.'],
    version,
    sections: { core: entries(core), huggingFace: entries(hashes) },
  });
}

export async function startListServer() {
  /** path -> {status, body} */
  const routes = new Map();
  const requests = [];
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    requests.push(pathname);
    const route = routes.get(pathname) ?? { status: 404, body: 'not found' };
    res.writeHead(route.status, { 'content-type': 'text/plain; charset=utf-8', 'access-control-allow-origin': '*' });
    res.end(route.body);
  });
  const listening = await listen(server, 0, '127.0.0.1');
  const serve = (path, body, status = 200) => routes.set(path, { status, body });
  return {
    requests,
    url: (path) => listening.url + path,
    /** Serves `body` (a string or Buffer) at `path` with `status`. */
    serve,
    /**
     * Serves `text` at `path` and its sidecar at `${path}.sha256`: the right
     * one, or (`sidecar: 'wrong'`) one for other bytes.
     */
    serveList(path, text, { sidecar: kind = 'right' } = {}) {
      const name = path.slice(path.lastIndexOf('/') + 1);
      serve(path, text);
      serve(`${path}.sha256`, sidecar(kind === 'right' ? text : `${text}tampered`, name));
    },
    /** Answers `status` for `path` and its sidecar. */
    fail(path, status = 503) {
      for (const p of [path, `${path}.sha256`]) serve(p, 'unavailable', status);
    },
    close: listening.close,
  };
}
