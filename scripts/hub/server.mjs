#!/usr/bin/env node
// A tiny stand-in for the Hugging Face Hub, enough for Transformers.js (no dependencies).
//
//   GET|HEAD /<owner>/<model>/resolve/main/<file>  file bytes (Range "bytes=a-b" supported:
//                                                  Transformers.js probes files with bytes=0-0)
//   GET      /<owner>/<model>/raw/main/<file>      large files (*.onnx or > 1 MiB): the Git LFS
//                                                  pointer, as the Hub sends it; small files: the file
//   GET|HEAD /ort/<file>                           onnxruntime-web/dist/<file>
//   GET|HEAD /onnxruntime/onnxruntime-web/(resolve|raw)/main/<file>
//                                                  the same files as a Hub repo: Transformers.js can then
//                                                  learn the .wasm's hash from /raw/ before downloading it
//   GET|HEAD /public-hash-list/public_hash_list.txt[.sha256]
//                                                  a Public Hash List of the files hosted here, and its
//                                                  sidecar, the way the upstream list carries popular Hugging
//                                                  Face models: in its HUGGING-FACE section, every large file
//                                                  (what /raw/ answers with an LFS pointer) and the ORT
//                                                  binaries (.wasm and .mjs glue) served above
//   GET      /__stats                              {byOrigin: {origin: {bytes, requests: [...]}}}
//   POST     /__reset                              clears the stats
//
// Usage: node scripts/hub/server.mjs [--port N] [--root DIR]   (env HUB_PORT, HUB_ROOT)
// Port 0 picks a free one; the URL is printed as one JSON line: {"hub":"http://127.0.0.1:PORT"}.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { cliArg, listen } from '../lib/serve.mjs';
import { formatPublicHashList, ORT_BINARY, sha256File, sidecar } from '../lib/public-hash-list.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DEFAULT_ROOT = path.join(process.env.COS_CACHE ?? path.join(REPO, '.cache'), 'hub');
const ORT_DIR = path.join(REPO, 'node_modules', 'onnxruntime-web', 'dist');
const ORT_REPO = 'onnxruntime/onnxruntime-web';
const LFS_MIN_SIZE = 1024 * 1024;
const PHL_PATH = '/public-hash-list/public_hash_list.txt';

const TYPES = {
  '.json': 'application/json; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
};
const contentType = (file) => TYPES[path.extname(file)] ?? 'application/octet-stream';

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Content-Type, Accept-Ranges, ETag',
};

/** Resolves `rel` under `dir`, refusing anything that escapes it. */
function inside(dir, rel) {
  const full = path.resolve(dir, rel);
  return full.startsWith(path.resolve(dir) + path.sep) ? full : null;
}

async function fileInfo(file) {
  try {
    const s = await stat(file);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

/** The requesting page's origin: Origin header, else the Referer's origin, else "unknown". */
function requesterOrigin(req) {
  if (req.headers.origin && req.headers.origin !== 'null') return req.headers.origin;
  try {
    return new URL(req.headers.referer).origin;
  } catch {
    return 'unknown';
  }
}

// ortDir: another onnxruntime-web/dist (an older Transformers.js bundles an older ORT, whose .wasm must match it).
export async function startHub({ port = 0, root = DEFAULT_ROOT, host = '127.0.0.1', log = false, ortDir = ORT_DIR } = {}) {
  let stats = { byOrigin: {} };
  const shaCache = new Map(); // file -> Promise<hex>, keyed with mtime+size so a rebuild is noticed

  function sha256(file, info) {
    const key = `${file}:${info.mtimeMs}:${info.size}`;
    if (!shaCache.has(key)) shaCache.set(key, sha256File(file));
    return shaCache.get(key);
  }

  const isLfs = (file, info) => file.endsWith('.onnx') || info.size > LFS_MIN_SIZE;

  /** Every regular file under `dir`, as [path relative to dir, full path, stat], sorted by path. */
  async function filesUnder(dir) {
    const found = [];
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
      const file = path.join(entry.parentPath, entry.name);
      const info = entry.isFile() && await fileInfo(file);
      if (info) found.push([path.relative(dir, file).split(path.sep).join('/'), file, info]);
    }
    return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The list of what this hub hosts; rebuilt per request (hashes are cached), so it follows the files. */
  async function publicHashList() {
    const ortVersion = await readFile(path.join(ortDir, '..', 'package.json'), 'utf8')
      .then((json) => `@${JSON.parse(json).version}`, () => '');
    const huggingFace = [];
    for (const [rel, file, info] of await filesUnder(root)) {
      if (isLfs(file, info)) huggingFace.push({ hash: await sha256(file, info), source: rel });
    }
    for (const [rel, file, info] of await filesUnder(ortDir)) {
      if (ORT_BINARY.test(rel)) huggingFace.push({ hash: await sha256(file, info), source: `onnxruntime-web${ortVersion}/dist/${rel}` });
    }
    // Named by its content: the same files give the same version.
    const digest = createHash('sha256').update(huggingFace.map((e) => e.hash).sort().join('\n')).digest('hex');
    return formatPublicHashList({
      header: ['Cross-Origin Storage Public Hash List of the local model hub (scripts/hub/server.mjs).'],
      version: `local-hub-1 (${huggingFace.length} files, ${digest.slice(0, 16)})`,
      sections: { huggingFace },
    });
  }

  function record(req, pathname, status, bytes) {
    const origin = requesterOrigin(req);
    const entry = (stats.byOrigin[origin] ??= { bytes: 0, requests: [] });
    entry.bytes += bytes;
    entry.requests.push({ method: req.method, path: pathname, range: req.headers.range, status, bytes });
    if (log) console.error(`${status} ${req.method} ${pathname} ${bytes}B <- ${origin}`);
  }

  function send(req, res, pathname, status, headers, body = '') {
    const data = Buffer.from(body);
    res.writeHead(status, { ...CORS, 'Content-Length': data.length, ...headers });
    res.end(req.method === 'HEAD' ? undefined : data);
    record(req, pathname, status, req.method === 'HEAD' ? 0 : data.length);
  }

  const json = (req, res, pathname, status, obj) =>
    send(req, res, pathname, status, { 'Content-Type': 'application/json' }, JSON.stringify(obj));
  const notFound = (req, res, pathname) => json(req, res, pathname, 404, { error: 'Entry not found', path: pathname });

  /** Streams a file (or one byte range of it); counts the bytes actually written. */
  function sendFile(req, res, pathname, file, info, extra = {}) {
    let start = 0, end = info.size - 1, status = 200;
    const headers = { ...CORS, 'Content-Type': contentType(file), 'Accept-Ranges': 'bytes', ...extra };
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && (m[1] || m[2])) {
      if (m[1]) { start = +m[1]; if (m[2]) end = Math.min(+m[2], end); }
      else start = Math.max(0, info.size - +m[2]); // suffix range "bytes=-N"
      if (start > end) {
        return send(req, res, pathname, 416, { 'Content-Range': `bytes */${info.size}` });
      }
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`;
    }
    const length = end - start + 1;
    res.writeHead(status, { ...headers, 'Content-Length': length });
    if (req.method === 'HEAD' || length === 0) {
      res.end();
      return record(req, pathname, status, 0);
    }
    let sent = 0;
    const stream = createReadStream(file, { start, end });
    stream.on('data', (c) => { sent += c.length; });
    stream.pipe(res);
    // 'close' also fires when the client aborts, so partial downloads are counted as sent.
    res.on('close', () => { stream.destroy(); record(req, pathname, status, sent); });
  }

  async function handle(req, res) {
    const { pathname } = new URL(req.url, 'http://hub');
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, POST',
        'Access-Control-Allow-Headers': '*', 'Access-Control-Max-Age': '600' });
      return res.end();
    }
    // Stats are not counted in themselves.
    if (pathname === '/__stats' && req.method === 'GET') {
      res.writeHead(200, { ...CORS, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      return res.end(JSON.stringify(stats));
    }
    if (pathname === '/__reset' && req.method === 'POST') {
      stats = { byOrigin: {} };
      res.writeHead(204, CORS);
      return res.end();
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return json(req, res, pathname, 405, { error: 'Method not allowed' });
    }

    if (pathname === PHL_PATH || pathname === `${PHL_PATH}.sha256`) {
      const list = await publicHashList();
      const body = pathname === PHL_PATH ? list : sidecar(list, path.basename(PHL_PATH));
      return send(req, res, pathname, 200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' }, body);
    }

    let rel = null;
    try { rel = decodeURIComponent(pathname); } catch { /* malformed escape: 404 below */ }
    const ort = rel && /^\/ort\/([^/]+)$/.exec(rel);
    if (ort) {
      const file = inside(ortDir, ort[1]);
      const info = file && await fileInfo(file);
      return info ? sendFile(req, res, pathname, file, info) : notFound(req, res, pathname);
    }
    // /<owner>/<name>/(resolve|raw)/<revision>/<file path>; only "main" exists here.
    const hub = rel && /^\/([^/]+\/[^/]+)\/(resolve|raw)\/main\/(.+)$/.exec(rel);
    const file = hub && (hub[1] === ORT_REPO ? inside(ortDir, hub[3]) : inside(root, path.join(hub[1], hub[3])));
    const info = file && await fileInfo(file);
    if (!info) return notFound(req, res, pathname);

    const oid = isLfs(file, info) ? await sha256(file, info) : null;
    if (hub[2] === 'raw' && oid) {
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${info.size}\n`;
      return send(req, res, pathname, 200, { 'Content-Type': 'text/plain; charset=utf-8' }, pointer);
    }
    // Like the Hub: LFS files carry their sha256 as ETag.
    return sendFile(req, res, pathname, file, info, oid ? { ETag: `"${oid}"` } : {});
  }

  // Hashes every listed file up front, so neither the first /raw/ request nor the list waits on it.
  await publicHashList();

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) json(req, res, req.url, 500, { error: String(err) });
      else res.destroy();
    });
  });
  return {
    ...(await listen(server, port, host)),
    stats: () => structuredClone(stats),
    reset: () => { stats = { byOrigin: {} }; },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const hub = await startHub({
    port: Number(cliArg('port') ?? process.env.HUB_PORT ?? 0),
    root: path.resolve(cliArg('root') ?? process.env.HUB_ROOT ?? DEFAULT_ROOT),
    log: process.argv.includes('--log'),
  });
  console.log(JSON.stringify({ hub: hub.url }));
}
