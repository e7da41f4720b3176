// The README's main scenario (scripts/demo): real Transformers.js with a real model on two
// origins that are different sites, the model files and ONNX Runtime served by the local hub.
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { test, expect, REPO_ROOT } from './fixtures.mjs';
import { runScenario, isHeavy, similarityRange, maxEmbeddingDiff } from '../../scripts/demo-app/scenario.mjs';

const CACHE = process.env.COS_CACHE ?? path.join(REPO_ROOT, '.cache');
// What the app loads with its defaults (dtype q8, ort lfs): path on the hub -> file on disk.
const HEAVY_FILES = {
  '/Xenova/all-MiniLM-L6-v2/resolve/main/onnx/model_quantized.onnx':
    path.join(CACHE, 'hub/Xenova/all-MiniLM-L6-v2/onnx/model_quantized.onnx'),
  '/onnxruntime/onnxruntime-web/resolve/main/ort-wasm-simd-threaded.asyncify.wasm':
    path.join(REPO_ROOT, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm'),
};

// Both tests share the model build; one worker runs them in order so it happens once.
test.describe.configure({ mode: 'default' });

test.beforeAll(() => {
  test.setTimeout(15 * 60_000); // a fresh machine installs Python packages and converts the model
  execFileSync(path.join(REPO_ROOT, 'scripts/model/build'), { stdio: 'inherit' });
});

/** Bytes the hub served to `row`'s origin per weights/wasm path. */
const heavyByPath = (row) =>
  Object.fromEntries(
    Object.keys(HEAVY_FILES).map((p) => [p, row.hub.requests.filter((r) => isHeavy(r) && r.path === p).reduce((n, r) => n + r.bytes, 0)]),
  );
const fileSizes = () => Object.fromEntries(Object.entries(HEAVY_FILES).map(([p, file]) => [p, statSync(file).size]));

/** Same embeddings on both origins, and paraphrases well above unrelated pairs. */
function expectSameSensibleResults([a, b]) {
  for (const row of [a, b]) {
    expect(row.result, row.origin).toMatchObject({ ok: true });
    const [paraphrase, unrelated] = similarityRange(row.result);
    expect(paraphrase - unrelated, `${row.origin}: min paraphrase - max unrelated`).toBeGreaterThan(0.3);
  }
  expect(maxEmbeddingDiff(a.result, b.result)).toBeLessThan(1e-5);
}

test('with the extension, origin B gets the weights and the ORT wasm from cross-origin storage', async () => {
  test.setTimeout(240_000);
  const { list, rows } = await runScenario({ extension: true });
  const [a, b, c] = rows;
  // Through the gate: the hub's list, set on the settings page, lists what A shares.
  expect(list).toMatchObject({ source: 'url', version: expect.stringMatching(/^local-hub-1 /) });
  expect(list.count).toBeGreaterThanOrEqual(Object.keys(HEAVY_FILES).length);
  expectSameSensibleResults([a, b]);
  expectSameSensibleResults([a, c]);
  for (const row of rows) {
    expect(row.result.cosPresent, row.origin).toBe(true);
    expect(row.cos.storeErrors, row.origin).toEqual([]);
  }
  // A downloads each heavy file exactly once (no second full download, no stray range reads)...
  expect(heavyByPath(a)).toEqual(fileSizes());
  expect(a.cos.stores).toBeGreaterThanOrEqual(2);
  // ...and B none: every weights/wasm byte it used was read from COS.
  expect(b.hub.requests.filter(isHeavy)).toEqual([]);
  const total = Object.values(fileSizes()).reduce((x, y) => x + y);
  expect(b.cos.hitBytes).toBeGreaterThanOrEqual(total);
  // Nor C, whose model ran in a Web Worker: the worker read them from COS itself.
  expect(c.result.inWorker).toBe(true);
  expect(c.hub.requests.filter(isHeavy)).toEqual([]);
  expect(c.cos.hitBytes).toBeGreaterThanOrEqual(total);
});

test('without the extension, the app still works on both origins, each downloading everything', async () => {
  test.setTimeout(240_000);
  const { list, rows } = await runScenario({ extension: false });
  expect(list).toBeNull();
  expectSameSensibleResults(rows);
  for (const row of rows) {
    expect(row.result.cosPresent, row.origin).toBe(false);
    expect(row.cos.calls, row.origin).toBe(0);
    expect(heavyByPath(row), row.origin).toEqual(fileSizes());
  }
});

test('Transformers.js 4.2 (plural requestFileHandles): its same-site stores are read back, not shared cross-site', async () => {
  test.setTimeout(240_000);
  // A: localhost, B: 127.0.0.1 (another site), C: localhost on another port (A's site).
  const { list, rows } = await runScenario({ extension: true, legacy: true });
  expect(list).toMatchObject({ source: 'url' });
  const [a, b, c] = rows;
  expectSameSensibleResults([a, c]);
  expect(maxEmbeddingDiff(a.result, b.result)).toBeLessThan(1e-5);
  for (const row of rows) {
    expect(row.result.transformers, row.origin).toBe('4.2.0');
    expect(row.cos.storeErrors, row.origin).toEqual([]);
  }
  expect(a.hub.heavyBytes).toBeGreaterThan(40e6);
  // 4.2 stores without `origins`, which the draft makes same-site: B downloads everything again...
  expect(b.hub.heavyBytes).toBe(a.hub.heavyBytes);
  // ...while C reads all of it from COS.
  expect(c.hub.requests.filter(isHeavy)).toEqual([]);
  expect(c.cos.hitBytes).toBeGreaterThanOrEqual(a.hub.heavyBytes);
});
