#!/usr/bin/env node
// The "real Transformers.js on two origins" scenario, shared by scripts/demo (which runs this
// file and prints a table) and tests/e2e/demo.spec.mjs (which imports runScenario).
//
// One Chromium profile visits the demo app on origin A (http://localhost:PA), then on origin B
// (http://127.0.0.1:PB), a different site. Model files and the ONNX Runtime come from the local
// hub (scripts/hub/server.mjs), which counts the bytes it serves per requesting origin. With the
// extension, B should find the weights and the ORT .wasm in cross-origin storage: A stores them for
// every site, and the Public Hash List lets that reach B. The list is the hub's own (the way the
// upstream list carries popular Hugging Face models), set on the extension's settings page as a
// user would; the demo never goes around the gate. A third site, C (http://127.0.0.2:PC), runs the
// model in a Web Worker, as Transformers.js's own examples do, and should find them there too, from
// inside the worker.
// --legacy: Transformers.js 4.2 (plural requestFileHandles) and a third origin, see LEGACY_HOSTS.
//
// Usage: node scripts/demo-app/scenario.mjs [--headed] [--no-extension] [--legacy]
//                                           [--dtype q8|fp32] [--ort lfs|plain]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium, REPO_ROOT } from '../../tests/e2e/fixtures.mjs';
import { startHub } from '../hub/server.mjs';
import { startApp } from './server.mjs';

// Transformers.js 4.2 bundles its own ONNX Runtime JS; the .wasm it loads must be the same version.
const LEGACY_ORT_DIR = path.join(REPO_ROOT, 'node_modules/transformers-legacy/node_modules/onnxruntime-web/dist');

/** Model weights and ONNX Runtime binaries: what COS must spare origin B (LFS pointers under /raw/ are not). */
export const isHeavy = (request) => /\.(onnx|wasm)$/.test(request.path) && !request.path.includes('/raw/');

// Runs in the page before its scripts (and in the app's worker as soon as it starts). Observes
// navigator.crossOriginStorage from outside the extension: a hit is a read-mode request that resolved
// with a handle (for the plural legacy call, one per hash), a miss one that rejected; a store is a
// writable that closed successfully. `pending` counts calls still in flight, so the driver can wait
// for background stores to finish.
function observeCrossOriginStorage() {
  const cos = (globalThis.__cos = { hits: 0, hitBytes: 0, misses: 0, stores: 0, storeErrors: [], pending: 0, calls: 0 });
  const track = async (promise) => {
    cos.pending++;
    try {
      return await promise;
    } finally {
      cos.pending--;
    }
  };
  const observeHandle = (handle, create) => {
    if (!create) {
      const getFile = handle.getFile;
      handle.getFile = () => track(getFile.call(handle)).then((file) => ((cos.hitBytes += file.size), file));
      return;
    }
    const createWritable = handle.createWritable;
    handle.createWritable = async (...args) => {
      const writable = await track(createWritable.apply(handle, args));
      const close = writable.close;
      writable.close = () =>
        track(close.call(writable)).then(
          () => void cos.stores++,
          (err) => {
            cos.storeErrors.push(`${err.name}: ${err.message}`);
            throw err;
          },
        );
      return writable;
    };
  };
  const wrap = () => {
    const proto = globalThis.CrossOriginStorageManager?.prototype;
    if (!proto || Object.hasOwn(proto, '__observed')) return;
    Object.defineProperty(proto, '__observed', { value: true });
    for (const name of ['getFileHandle', 'requestFileHandle', 'requestFileHandles']) {
      const method = proto[name];
      if (typeof method !== 'function') continue;
      proto[name] = function (hash, options) {
        const create = Boolean(options?.create);
        const plural = name === 'requestFileHandles';
        cos.calls++;
        return track(method.call(this, hash, options)).then(
          (result) => {
            const handles = plural ? result : [result];
            if (!create) cos.hits += handles.length;
            handles.forEach((h) => observeHandle(h, create));
            return result;
          },
          (err) => {
            if (!create) cos.misses += plural ? hash.length : 1;
            throw err;
          },
        );
      };
    }
  };
  // The extension's document_start script and this one both run before page scripts, in no
  // guaranteed order; the document turns "interactive" before module scripts (app.js) execute.
  wrap();
  globalThis.document?.addEventListener('readystatechange', wrap);
}

/** Starts the hub and one app server (its own port, so its own origin) per host. */
export async function startServers({ hosts, legacy = false }) {
  const hub = await startHub({ port: 0, ...(legacy ? { ortDir: LEGACY_ORT_DIR } : {}) });
  const apps = await Promise.all(hosts.map((host) => startApp({ port: 0, ...(host === WORKER_HOST ? { host } : {}) })));
  return {
    hub,
    origins: hosts.map((host, i) => `http://${host}:${apps[i].port}`),
    close: () => Promise.all([hub.close(), ...apps.map((a) => a.close())]),
  };
}

/**
 * Sets the hub's Public Hash List as the refresh URL on the extension's settings page, the way a
 * user would (a deployment can set the same URL by enterprise policy instead), and waits for the
 * refresh. Returns the list the page then shows in use: {source, url, version, count}.
 */
async function useHubList(context, hubUrl) {
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  const page = await context.newPage();
  try {
    await page.goto(`chrome-extension://${new URL(worker.url()).host}/extension/ui/options.html`);
    await page.locator('#phl-url').fill(`${hubUrl}/public-hash-list/public_hash_list.txt`);
    await page.locator('#phl-save').click();
    // The page says "Saved" once the refresh worked, or shows why it did not.
    await page.waitForFunction(() => /Saved/.test(document.getElementById('status').textContent) || !document.getElementById('error').hidden);
    const list = await page.evaluate(() => ({
      source: document.querySelector('#phl-source [data-source]').dataset.source,
      version: document.getElementById('phl-version').textContent,
      count: Number(document.querySelector('#phl-count data').value),
      error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    }));
    if (list.source !== 'url') throw new Error(`the extension did not take the hub's Public Hash List: ${list.error}`);
    return { source: list.source, url: `${hubUrl}/public-hash-list/public_hash_list.txt`, version: list.version, count: list.count };
  } finally {
    await page.close();
  }
}

/**
 * Waits until no COS call has been in flight or started for `quietMs` (stores run after the result);
 * `page` is the page, or the worker, the app calls COS from.
 */
async function settle(page, quietMs = 1500, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  let since = Date.now();
  while (Date.now() < deadline) {
    const now = await page.evaluate(() => `${globalThis.__cos.pending}/${globalThis.__cos.calls}`);
    if (now !== last || !now.startsWith('0/')) [last, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`COS calls still in flight after ${timeoutMs} ms`);
}

/** Loads the app on `origin`, waits for its result and for its background stores. */
async function visit(context, origin, hubUrl, { dtype, ort, legacy }) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The worker site: the app's worker is observed as the page is (init scripts do not reach workers).
  const inWorker = new URL(origin).hostname === WORKER_HOST;
  const appWorker = inWorker
    ? new Promise((resolve) => page.on('worker', (worker) => worker.evaluate(observeCrossOriginStorage).then(() => resolve(worker))))
    : null;
  const query = new URLSearchParams({ hub: hubUrl, dtype, ort, ...(legacy ? { tjs: 'legacy' } : {}), ...(inWorker ? { worker: '1' } : {}) });
  await page.goto(`${origin}/?${query}`);
  await page.waitForFunction(() => window.demoResult, null, { timeout: 180_000 }).catch(async (err) => {
    // A hang, not a failure the app reported: say where it stands (e.g. a COS call that never settled).
    const state = await page.evaluate(() => ({ status: document.getElementById('status').textContent, cos: window.__cos }));
    throw new Error(`${origin}: no result: ${err.message}\n${JSON.stringify(state)}\n${errors.join('\n')}`);
  });
  const caller = inWorker ? await appWorker : page;
  await settle(caller);
  const result = await page.evaluate(() => window.demoResult);
  const cos = await caller.evaluate(() => globalThis.__cos);
  await page.close();
  return { result, cos, errors };
}

// localhost and 127.0.0.1 are different sites (and secure contexts without flags). Transformers.js
// 4.2 stores with {create: true} and no `origins`, which the current draft makes visible to the
// storing site only, so the legacy run adds a third origin on A's site (another port) to show
// its plural requestFileHandles reads working.
// The third site runs the model in a Web Worker: 127.0.0.2 is loopback too (a secure context), and a
// site of its own.
const WORKER_HOST = '127.0.0.2';
const HOSTS = ['localhost', '127.0.0.1', WORKER_HOST];
const LEGACY_HOSTS = ['localhost', '127.0.0.1', 'localhost'];

/**
 * Runs the app on origin A, then on origin B (and C), in one fresh profile. Returns `{list, rows}`:
 * the Public Hash List the extension used (null without the extension; see useHubList) and one row
 * per origin: {origin, result, cos, errors, hub: {bytes, heavyBytes, requests}} with the hub's view
 * of that origin.
 */
export async function runScenario({ extension = true, headed = false, dtype = 'q8', ort = 'lfs', legacy = false } = {}) {
  const servers = await startServers({ hosts: legacy ? LEGACY_HOSTS : HOSTS, legacy });
  const profile = await mkdtemp(path.join(tmpdir(), 'cos-demo-'));
  const context = await launchChromium(profile, { extension, headed });
  try {
    const list = extension ? await useHubList(context, servers.hub.url) : null;
    await context.addInitScript(observeCrossOriginStorage);
    const rows = [];
    for (const origin of servers.origins) {
      rows.push({ origin, ...(await visit(context, origin, servers.hub.url, { dtype, ort, legacy })) });
    }
    const stats = servers.hub.stats().byOrigin;
    for (const row of rows) {
      const requests = stats[row.origin]?.requests ?? [];
      const sum = (list) => list.reduce((n, r) => n + r.bytes, 0);
      row.hub = { bytes: sum(requests), heavyBytes: sum(requests.filter(isHeavy)), requests };
    }
    return { list, rows };
  } finally {
    await context.close();
    await servers.close();
    await rm(profile, { recursive: true, force: true });
  }
}

/** Paraphrase pairs vs unrelated pairs: [lowest paraphrase score, highest unrelated score]. */
export function similarityRange(result) {
  const scores = (kind) => result.similarities.filter((s) => s.kind === kind).map((s) => s.score);
  return [Math.min(...scores('paraphrase')), Math.max(...scores('unrelated'))];
}

/** Largest absolute difference between two results' embeddings (the first dims the app publishes). */
export function maxEmbeddingDiff(a, b) {
  const x = a.embeddings.flat();
  const y = b.embeddings.flat();
  if (x.length !== y.length) return Infinity;
  return Math.max(...x.map((v, i) => Math.abs(v - y[i])));
}

const MB = (n) => `${(n / 1e6).toFixed(1)} MB`;

function printReport({ list, rows }) {
  if (list) console.log(`\nPublic Hash List in use: ${list.source} ${list.url}, version ${list.version}, ${list.count} hashes`);
  console.log('\n| origin | model + wasm bytes from the hub | COS hits | time to first result | result |');
  console.log('|---|---|---|---|---|');
  for (const { origin, result, cos, hub } of rows) {
    const hits = result.cosPresent ? `${cos.hits} (${MB(cos.hitBytes)}), ${cos.misses} misses, ${cos.stores} stores` : 'API absent';
    const outcome = result.ok
      ? (([p, u]) => `paraphrase ≥ ${p.toFixed(2)}, unrelated ≤ ${u.toFixed(2)}`)(similarityRange(result))
      : `FAILED: ${result.error.split('\n')[0]}`;
    const time = result.ok ? `${result.timeToFirstResultMs} ms (Transformers.js ${result.transformers}${result.inWorker ? ', in a worker' : ''})` : '-';
    console.log(`| ${origin} | ${hub.heavyBytes} (${MB(hub.heavyBytes)}) | ${hits} | ${time} | ${outcome} |`);
  }
  const [a, b] = [rows[0], rows.at(-1)];
  console.log(`\nRequests still served to ${b.origin} (${b.hub.bytes} bytes in all):`);
  for (const r of b.hub.requests) {
    console.log(`  ${r.status} ${r.method} ${r.path}${r.range ? ` [${r.range}]` : ''}  ${r.bytes} B${isHeavy(r) ? '  <- weights/wasm' : ''}`);
  }
  console.log(`\nBytes saved on ${b.origin}: ${a.hub.bytes - b.hub.bytes} of ${a.hub.bytes} ` +
    `(model + wasm: ${a.hub.heavyBytes - b.hub.heavyBytes} of ${a.hub.heavyBytes})`);
  if (a.result.ok && b.result.ok) console.log(`Max |embedding A - embedding B|: ${maxEmbeddingDiff(a.result, b.result)}`);
  for (const { origin, errors, cos } of rows) {
    for (const e of [...errors, ...cos.storeErrors]) console.log(`  ${origin}: ${e}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback);
  let headed = argv.includes('--headed');
  if (headed && !process.env.DISPLAY) {
    console.warn('--headed: no DISPLAY, running headless');
    headed = false;
  }
  const options = {
    headed,
    extension: !argv.includes('--no-extension'),
    legacy: argv.includes('--legacy'),
    dtype: option('dtype', 'q8'),
    ort: option('ort', 'lfs'),
  };
  console.log(`Scenario: ${JSON.stringify(options)}`);
  const { list, rows } = await runScenario(options);
  printReport({ list, rows });
  // Every origin after the first is spared the download (in the legacy run only the last, A's site).
  const spared = options.legacy ? [rows.at(-1)] : rows.slice(1);
  const failures = [
    ...rows.filter((r) => !r.result.ok).map((r) => `${r.origin}: the app failed`),
    ...(options.extension
      ? spared.filter((r) => r.hub.heavyBytes > 0).map((r) => `${r.origin} downloaded ${r.hub.heavyBytes} bytes of model weights / ORT wasm`)
      : []),
  ];
  if (options.legacy && options.extension) {
    console.log('\nTransformers.js 4.2 stores with {create: true} and no `origins`: visible to the storing site only ' +
      '(current draft), so the other site downloads again and the third origin, on the first one\'s site, reads from COS.');
  }
  const ok = options.extension
    ? `${spared.map((r) => r.origin).join(' and ')} downloaded no model weights and no ORT wasm`
    : 'the app works on every origin without the extension';
  console.log(failures.length ? `\nFAIL\n  ${failures.join('\n  ')}` : `\nOK: ${ok}`);
  process.exit(failures.length ? 1 : 0);
}
