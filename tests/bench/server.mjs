// HTTP server for scripts/bench: the benchmark page on every *.test host and
// /bytes?size=N&seed=S, the pattern bytes of scripts/lib/pattern.mjs, served
// from a precomputed piece so the server is never the bottleneck.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { listen } from '../../scripts/lib/serve.mjs';
import { sendPattern } from '../../scripts/lib/pattern.mjs';

const DIR = new URL('./', import.meta.url).pathname;
const FILES = { '/bench.html': 'text/html; charset=utf-8', '/bench-page.js': 'text/javascript' };

export async function startBenchServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/bytes') {
      return sendPattern(res, Number(url.searchParams.get('size')), Number(url.searchParams.get('seed') ?? 0));
    }
    const path = url.pathname === '/' ? '/bench.html' : url.pathname;
    if (!FILES[path]) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': FILES[path] });
    res.end(await readFile(DIR + path.slice(1)));
  });
  return listen(server, 0, '127.0.0.1');
}
