#!/usr/bin/env node
// Static server for the demo app (no dependencies).
//   /                     -> scripts/demo-app/ (or --root DIR)
//   /vendor/transformers/ -> node_modules/@huggingface/transformers/dist/
//   /vendor/transformers-legacy/ -> node_modules/transformers-legacy/dist/ (4.2)
//   /vendor/wllama/       -> node_modules/@wllama/wllama/esm/ (the compatibility matrix, tests/compat/)
// Usage: node scripts/demo-app/server.mjs [--port N] [--host H] [--root DIR]   (env APP_PORT)
// Port 0 picks a free one; the URL is printed as one JSON line: {"app":"http://127.0.0.1:PORT"}.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { cliArg, listen } from '../lib/serve.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
// Transformers.js 4.3 (default) and 4.2 (npm alias transformers-legacy, for the plural requestFileHandles); wllama.
const VENDOR = {
  '/vendor/transformers/': path.resolve(HERE, '../../node_modules/@huggingface/transformers/dist'),
  '/vendor/transformers-legacy/': path.resolve(HERE, '../../node_modules/transformers-legacy/dist'),
  '/vendor/wllama/': path.resolve(HERE, '../../node_modules/@wllama/wllama/esm'),
};
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Maps a URL path to a file under one of the served folders, or null. */
function resolveFile(root, pathname) {
  const prefix = Object.keys(VENDOR).find((p) => pathname.startsWith(p));
  const [dir, rel] = prefix
    ? [VENDOR[prefix], pathname.slice(prefix.length)]
    : [root, pathname.endsWith('/') ? `${pathname}index.html` : pathname];
  const full = path.resolve(dir, `.${path.posix.sep}${rel}`);
  return full.startsWith(path.resolve(dir) + path.sep) ? full : null;
}

export async function startApp({ port = 0, root = HERE, host = '127.0.0.1' } = {}) {
  const server = createServer(async (req, res) => {
    let file = null;
    try { file = resolveFile(root, decodeURIComponent(new URL(req.url, 'http://app').pathname)); } catch { /* 404 */ }
    const info = file && await stat(file).catch(() => null);
    if (!info?.isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'Content-Length': info.size,
      'Cache-Control': 'no-cache',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return listen(server, port, host);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await startApp({
    port: Number(cliArg('port') ?? process.env.APP_PORT ?? 0),
    host: cliArg('host') ?? '127.0.0.1',
    root: path.resolve(cliArg('root') ?? HERE),
  });
  console.log(JSON.stringify({ app: app.url }));
}
