#!/usr/bin/env node
// The compatibility matrix (issue 17): real libraries, and loaders written the
// way other libraries load, on two origins that are different sites (A:
// http://localhost:PA, then B: http://127.0.0.1:PB), in one fresh Chromium
// profile with the extension, against the local model hub (scripts/hub),
// whose Public Hash List the extension uses (set on its settings page, as
// scripts/demo does). For each row: the library and version, the methods it
// called on navigator.crossOriginStorage (observed in the page or worker,
// tests/compat/app/observe.js), what the hub sent each origin, and so
// whether B downloaded nothing and how many bytes it was spared.
//
// The rows run tests/compat/app/rows/*.js; the wllama model is a tiny GGUF
// generated here (gguf.mjs), the Transformers.js model the demo's
// all-MiniLM-L6-v2 (scripts/model/build, in COS_CACHE).
//
// Usage: node tests/compat/matrix.mjs [--rows id,id,...] [--fast] [--json FILE]
//   scripts/compat runs it after building the extension and the model.
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium, REPO_ROOT } from '../../scripts/lib/chromium.mjs';
import { startHub } from '../../scripts/hub/server.mjs';
import { startApp } from '../../scripts/demo-app/server.mjs';
import { LEGACY_ORT_DIR, useHubList } from '../../scripts/demo-app/scenario.mjs';
import { patternBytes } from '../../scripts/lib/pattern.mjs';
import { tinyLlamaGguf } from './gguf.mjs';

const APP_ROOT = new URL('./app/', import.meta.url).pathname;
const CACHE = process.env.COS_CACHE ?? path.join(REPO_ROOT, '.cache');
const MODEL_DIR = path.join(CACHE, 'hub/Xenova/all-MiniLM-L6-v2');
/** What the Transformers.js rows load with dtype q8. */
const MODEL_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'onnx/model_quantized.onnx'];
const WLLAMA_WASM = path.join(REPO_ROOT, 'node_modules/@wllama/wllama/esm/wasm/wllama.wasm');

const version = async (pkg) => JSON.parse(await readFile(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * The rows. `heavy` (set below): the hub paths the reading origin should not
 * download (what COS is for). `sameSiteVisit`: a third origin, on A's site,
 * visits last and is the one that should read. `standin`: no extension, the
 * in-memory stand-in API instead (tests/compat/app/standin.js); `sitesOff`:
 * the user turned the API off for both sites in the popup first.
 */
export const ROWS = [
  { id: 'tjs-page', library: 'Transformers.js', pkg: '@huggingface/transformers', context: 'page', row: 'transformers', params: { tjs: 'current' }, model: true },
  { id: 'tjs-worker', library: 'Transformers.js', pkg: '@huggingface/transformers', context: 'worker', row: 'transformers', params: { tjs: 'current' }, model: true },
  // 4.2 stores without `origins` (same-site under the current draft): a third origin on A's site reads.
  { id: 'tjs-legacy-page', library: 'Transformers.js', pkg: 'transformers-legacy', context: 'page', row: 'transformers', params: { tjs: 'legacy' }, model: true, ortDir: LEGACY_ORT_DIR, sameSiteVisit: true },
  { id: 'tjs-legacy-worker', library: 'Transformers.js', pkg: 'transformers-legacy', context: 'worker', row: 'transformers', params: { tjs: 'legacy' }, model: true, ortDir: LEGACY_ORT_DIR, sameSiteVisit: true },
  { id: 'wllama-url', library: 'wllama loadModelFromUrl()', pkg: '@wllama/wllama', context: 'page', row: 'wllama-url', fast: true },
  // Whose bug the breakage above is: the same call with a stand-in API and no extension.
  { id: 'wllama-url-standin', library: 'wllama loadModelFromUrl(), stand-in API, no extension', pkg: '@wllama/wllama', context: 'page', row: 'wllama-url', fast: true, standin: true },
  // The user's way out: the per-site switch.
  { id: 'wllama-url-sites-off', library: 'wllama loadModelFromUrl(), both sites turned off in the popup', pkg: '@wllama/wllama', context: 'page', row: 'wllama-url', fast: true, sitesOff: true },
  { id: 'wllama-lowlevel', library: 'wllama cacheManager.download() + open() + loadModel()', pkg: '@wllama/wllama', context: 'page', row: 'wllama-lowlevel', fast: true },
  { id: 'emscripten', library: 'Emscripten-style loader (harness)', context: 'page', row: 'emscripten', fast: true },
  { id: 'chunked', library: 'getFileHandle-only chunked writer (harness, WebLLM/wllama style)', context: 'page', row: 'chunked', fast: true },
];
for (const row of ROWS) {
  row.heavy ??= row.row === 'transformers' ? /\/resolve\/main\/.*\.(onnx|wasm)$/ : /\/compat\/[^/]+\/resolve\/main\//;
}

/**
 * A hub root for the rows: the generated model and files, and the demo's
 * model if `model` (hard links, or copies across file systems). Returns the
 * root and the hashes the harness loaders know beforehand (as a build would).
 */
export async function prepareHubRoot({ model = false } = {}) {
  const root = await mkdtemp(path.join(tmpdir(), 'cos-compat-hub-'));
  const put = async (rel, bytes) => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), bytes);
  };
  const linked = async (rel, source) => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await link(source, path.join(root, rel)).catch(() => copyFile(source, path.join(root, rel)));
  };
  // A weights shard's stand-in (3 MiB: many network chunks).
  const shard = patternBytes(3 << 20, 17);
  await put('compat/tiny-llama-gguf/tiny-llama.gguf', tinyLlamaGguf());
  await put('compat/webllm-style/params_shard_0.bin', shard);
  // An Emscripten program's main .wasm: wllama's is one.
  await linked('compat/emscripten-app/app.wasm', WLLAMA_WASM);
  if (model) {
    if (!existsSync(path.join(MODEL_DIR, MODEL_FILES.at(-1)))) throw new Error(`no model in ${MODEL_DIR}: run scripts/model/build (or set COS_CACHE)`);
    for (const file of MODEL_FILES) await linked(`Xenova/all-MiniLM-L6-v2/${file}`, path.join(MODEL_DIR, file));
  }
  return { root, hashes: { wasmHash: sha256(await readFile(WLLAMA_WASM)), shardHash: sha256(shard) }, remove: () => rm(root, { recursive: true, force: true }) };
}

/** The user turns the API off for `origin`'s site in the popup (opened as a tab for that origin, as its `?tab=` allows). */
async function turnOff(context, origin) {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const popup = await context.newPage();
  try {
    await popup.goto(`chrome-extension://${new URL(worker.url()).host}/extension/ui/popup.html?tab=${encodeURIComponent(origin)}`);
    await popup.locator('#switch-toggle').click();
    await popup.locator('#switch-state', { hasText: 'Off for' }).waitFor();
  } finally {
    await popup.close();
  }
}

/** Opens the harness on `origin` for `row` and waits for its result (the library's stores included). */
async function visit(context, origin, query) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/index.html?${query}`);
  await page.waitForFunction(() => window.compatResult, null, { timeout: 240_000 });
  const result = await page.evaluate(() => window.compatResult);
  await page.close();
  return { ...result, errors };
}

/**
 * Runs `row` on A then B (and C, on A's site, for `sameSiteVisit`) in a fresh
 * profile, with the extension unless the row uses the stand-in API. Returns
 * the row with its library's version and `visits`.
 */
export async function runRow(row, { hubRoot, headed = false }) {
  const standin = Boolean(row.standin);
  const extension = !standin;
  const hub = await startHub({ port: 0, root: hubRoot.root, ...(row.ortDir && { ortDir: row.ortDir }) });
  const hosts = ['localhost', '127.0.0.1', ...(row.sameSiteVisit ? ['localhost'] : [])];
  const apps = await Promise.all(hosts.map(() => startApp({ port: 0, root: APP_ROOT })));
  const origins = hosts.map((host, i) => `http://${host}:${apps[i].port}`);
  const profile = await mkdtemp(path.join(tmpdir(), 'cos-compat-'));
  const context = await launchChromium(profile, { extension, headed });
  try {
    if (extension) await useHubList(context, hub.url);
    if (row.sitesOff) for (const origin of new Set(origins)) await turnOff(context, origin);
    const query = new URLSearchParams({ row: row.row, hub: hub.url, context: row.context, ...row.params, ...hubRoot.hashes, ...(standin && { standin: '1' }) });
    const visits = [];
    for (const origin of origins) visits.push({ origin, ...(await visit(context, origin, query)) });
    const byOrigin = hub.stats().byOrigin;
    for (const v of visits) {
      const requests = byOrigin[v.origin]?.requests ?? [];
      const sum = (list) => list.reduce((n, r) => n + r.bytes, 0);
      v.hub = { bytes: sum(requests), heavyBytes: sum(requests.filter((r) => row.heavy.test(r.path))) };
    }
    return { ...row, version: row.pkg ? await version(row.pkg) : null, visits };
  } finally {
    await context.close();
    await Promise.all([hub.close(), ...apps.map((a) => a.close())]);
    await rm(profile, { recursive: true, force: true });
  }
}

/** The visit that should be spared the download: the last (B, or C on A's site for `sameSiteVisit`). */
export const readerOf = ({ visits }) => visits.at(-1);

/**
 * What a row shows: 'breaks' (some visit failed), 'works without the API'
 * (none was there), 'shared' (every visit worked, and the reader downloaded
 * none of the heavy files A did), else 'not shared'.
 */
export function verdict(result) {
  const { visits } = result;
  if (visits.some((v) => !v.ok)) return 'breaks';
  if (!visits[0].apiPresent) return 'works without the API';
  if (visits[0].hub.heavyBytes > 0 && readerOf(result).hub.heavyBytes === 0) return 'shared';
  return 'not shared';
}

/** The calls of one visit, grouped: `getFileHandle(create, origins "*") ×1`, `write(Uint8Array) ×48`, with outcomes other than ok. */
export function callSummary(calls) {
  const groups = new Map();
  for (const call of calls) {
    const args = [call.create && 'create', call.origins !== undefined && `origins ${JSON.stringify(call.origins)}`, call.data].filter(Boolean);
    const key = `${call.method}(${args.join(', ')})`;
    const group = groups.get(key) ?? { n: 0, failed: {} };
    group.n++;
    if (call.outcome !== 'ok') group.failed[call.outcome] = (group.failed[call.outcome] ?? 0) + 1;
    groups.set(key, group);
  }
  return [...groups]
    .map(([key, { n, failed }]) => {
      const failures = Object.entries(failed).map(([name, k]) => `${k} ${name}`);
      return `${key} ×${n}${failures.length ? ` (${failures.join(', ')})` : ''}`;
    })
    .join('; ');
}

const MB = (n) => `${(n / 1e6).toFixed(2)} MB`;

/** The README's table: one line per row; "heavy" is what the row's `heavy` matches (weights, .wasm). */
export function markdownTable(results) {
  const lines = [
    '| Library | Version | Runs in | Calls observed on site A, then on the reader | Reader downloaded (heavy) | Saved on the reader | Result |',
    '|---|---|---|---|---|---|---|',
  ];
  const cell = (text) => text.replaceAll('|', '\\|').replace(/http:\/\/127\.0\.0\.1:\d+/g, '<hub>');
  for (const r of results) {
    const [a, b] = r.visits;
    const reader = readerOf(r);
    const name = r.sameSiteVisit ? "C (A's site)" : 'B';
    const calls = `A: ${callSummary(a.calls) || 'none'}<br>${name}: ${callSummary(reader.calls) || 'none'}`;
    const failure = r.visits.find((v) => !v.ok);
    const otherSite = r.sameSiteVisit ? `; B (another site) downloaded ${MB(b.hub.heavyBytes)}` : '';
    const detail = `${verdict(r)}${otherSite}: ${failure ? failure.error : reader.detail}`;
    const saved = `${MB(a.hub.bytes - reader.hub.bytes)} (heavy ${MB(a.hub.heavyBytes - reader.hub.heavyBytes)})`;
    lines.push(`| ${r.library} | ${r.version ?? '-'} | ${r.context} | ${calls} | ${name}: ${MB(reader.hub.heavyBytes)} | ${saved} | ${cell(detail)} |`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : undefined);
  const wanted = option('rows')?.split(',');
  const rows = ROWS.filter((r) => (wanted ? wanted.includes(r.id) : !argv.includes('--fast') || r.fast));
  const unknown = wanted?.filter((id) => !ROWS.some((r) => r.id === id)) ?? [];
  if (unknown.length) throw new Error(`unknown rows ${unknown.join(', ')}; rows: ${ROWS.map((r) => r.id).join(', ')}`);
  const hubRoot = await prepareHubRoot({ model: rows.some((r) => r.model) });
  const results = [];
  try {
    for (const row of rows) {
      const started = Date.now();
      const result = await runRow(row, { hubRoot });
      results.push(result);
      console.error(`${row.id}: ${verdict(result)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await hubRoot.remove();
  }
  console.log(markdownTable(results));
  if (option('json')) await writeFile(option('json'), JSON.stringify(results, null, 2));
}
