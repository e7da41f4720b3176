#!/usr/bin/env node
// Baseline for the "real Transformers.js on two origins" scenario, without the extension:
// builds the model, starts the hub and the demo app on two origins (http://localhost:A and
// http://127.0.0.1:B, different sites), opens both in Debian's Chromium one after the other
// (same browser profile) and checks that
//   - both pages produce identical embeddings, paraphrases scoring clearly above unrelated pairs;
//   - both origins download the weights from the hub (nothing is shared without COS).
// A third run injects a recording stub of navigator.crossOriginStorage to show which calls
// Transformers.js makes when the API is present (the stub stores nothing).
//
// Usage: node scripts/demo-app/check-no-extension.mjs [--dtype q8|fp32] [--ort plain|lfs] [--headed]
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startHub } from '../hub/server.mjs';
import { startApp } from './server.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_DIR = path.join(process.env.COS_CACHE ?? path.join(REPO, '.cache'), 'hub/Xenova/all-MiniLM-L6-v2');
const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const dtype = option('dtype', 'q8');
const ort = option('ort', 'plain');
const weightsFile = `onnx/model${dtype === 'q8' ? '_quantized' : ''}.onnx`;

// Records every call; reads miss (NotFoundError), writes are accepted and measured but not kept.
function cosRecordingStub() {
  const calls = (window.__cosCalls = []);
  const notFound = () => Promise.reject(new DOMException('stub: not stored', 'NotFoundError'));
  const fileHandle = (call) => ({
    kind: 'file',
    name: call.hash,
    getFile: notFound,
    createWritable: async () => ({
      write: async (data) => { call.written += data.size ?? data.byteLength ?? 0; },
      close: async () => { call.closed = true; },
      abort: async () => {},
    }),
  });
  const method = (name) => async (hash, options = {}) => {
    const call = { method: name, hash: Array.isArray(hash) ? hash.map((h) => h.value) : hash?.value,
      algorithm: Array.isArray(hash) ? hash[0]?.algorithm : hash?.algorithm, options, written: 0, closed: false };
    calls.push(call);
    if (!options.create) return notFound();
    return Array.isArray(hash) ? hash.map(() => fileHandle(call)) : fileHandle(call);
  };
  Object.defineProperty(Navigator.prototype, 'crossOriginStorage', {
    configurable: true,
    get: () => ({ getFileHandle: method('getFileHandle'), requestFileHandle: method('requestFileHandle'),
      requestFileHandles: method('requestFileHandles') }),
  });
}

async function runPage(context, appUrl, hubUrl) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()} ${m.location().url}`); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${appUrl}/?hub=${encodeURIComponent(hubUrl)}&dtype=${dtype}&ort=${ort}`);
  await page.waitForFunction(() => window.demoResult, null, { timeout: 180_000 });
  // Transformers.js stores files in the background after the result; give it a moment.
  await page.waitForTimeout(1000);
  const result = await page.evaluate(() => window.demoResult);
  const cosCalls = await page.evaluate(() => window.__cosCalls ?? null);
  await page.close();
  return { result, cosCalls, errors };
}

function summarize(name, origin, { result, errors }, stats) {
  const entry = stats.byOrigin[origin] ?? { bytes: 0, requests: [] };
  console.log(`\n== ${name}: ${origin}`);
  if (!result.ok) console.log(`  FAILED: ${result.error}`);
  console.log(`  cosPresent=${result.cosPresent}  timeToFirstResultMs=${result.timeToFirstResultMs}`);
  for (const s of result.similarities ?? []) console.log(`  ${s.kind.padEnd(10)} ${s.score.toFixed(4)}  "${s.a}" ~ "${s.b}"`);
  console.log(`  hub bytes served to this origin: ${entry.bytes}`);
  for (const r of entry.requests) {
    console.log(`    ${r.status} ${r.method} ${r.path}${r.range ? ` [${r.range}]` : ''} ${r.bytes}`);
  }
  if (errors.length) console.log(`  console errors:\n    ${errors.join('\n    ')}`);
  return entry;
}

const failures = [];
const expect = (cond, msg) => { if (!cond) failures.push(msg); };

execFileSync(path.join(REPO, 'scripts/model/build'), { stdio: 'inherit' });
const weightsSize = statSync(path.join(MODEL_DIR, weightsFile)).size;

const hub = await startHub({ port: 0 });
const appA = await startApp({ port: 0 });
const appB = await startApp({ port: 0 });
const origins = { A: `http://localhost:${appA.port}`, B: `http://127.0.0.1:${appB.port}` };
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: !process.argv.includes('--headed'),
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  console.log(`hub ${hub.url}, apps ${origins.A} and ${origins.B}, dtype ${dtype}, ort ${ort} (${weightsFile}: ${weightsSize} bytes)`);
  const context = await browser.newContext();
  const runs = {};
  for (const key of ['A', 'B']) runs[key] = await runPage(context, origins[key], hub.url);
  await context.close();
  const stats = hub.stats();
  const entries = {};
  for (const key of ['A', 'B']) entries[key] = summarize(`origin ${key}`, origins[key], runs[key], stats);

  for (const key of ['A', 'B']) {
    const { result } = runs[key];
    expect(result.ok, `${key}: page failed`);
    expect(!result.cosPresent, `${key}: navigator.crossOriginStorage unexpectedly present`);
    expect(entries[key].bytes >= weightsSize, `${key}: did not download the weights (${entries[key].bytes} bytes)`);
    if (!result.ok) continue;
    const score = (kind, pick) => pick(...result.similarities.filter((s) => s.kind === kind).map((s) => s.score));
    const margin = score('paraphrase', Math.min) - score('unrelated', Math.max);
    console.log(`  ${key}: min(paraphrase) - max(unrelated) = ${margin.toFixed(4)}`);
    expect(margin > 0.3, `${key}: paraphrases not clearly above unrelated pairs (margin ${margin})`);
  }
  if (runs.A.result.ok && runs.B.result.ok) {
    const a = runs.A.result.embeddings.flat(), b = runs.B.result.embeddings.flat();
    const diff = Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    console.log(`\nmax |embedding A - embedding B| over the first 8 dims: ${diff}`);
    console.log(`first sentence, first 8 dims: ${runs.A.result.embeddings[0].map((x) => x.toFixed(5)).join(' ')}`);
    expect(diff === 0, 'embeddings differ between origins');
  }

  // Which COS calls does Transformers.js make when the API exists? (stub: nothing is stored)
  hub.reset();
  const stubContext = await browser.newContext();
  await stubContext.addInitScript(cosRecordingStub);
  const stubRun = await runPage(stubContext, origins.A, hub.url);
  await stubContext.close();
  summarize('origin A again, fresh profile, recording COS stub', origins.A, stubRun, hub.stats());
  console.log('  navigator.crossOriginStorage calls:');
  for (const c of stubRun.cosCalls ?? []) {
    console.log(`    ${c.method}(${c.algorithm}:${String(c.hash).slice(0, 12)}…, ${JSON.stringify(c.options)})` +
      (c.options.create ? ` wrote ${c.written} bytes, closed=${c.closed}` : ''));
  }
  expect(stubRun.result.ok, 'stub run: page failed');
} finally {
  await browser.close();
  await Promise.all([hub.close(), appA.close(), appB.close()]);
}

console.log(failures.length ? `\nFAIL\n  ${failures.join('\n  ')}` : '\nOK');
process.exit(failures.length ? 1 : 0);
