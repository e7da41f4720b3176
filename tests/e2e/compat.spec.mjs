// The fast part of the compatibility matrix (issue 17; scripts/compat runs
// all of it, tests/compat/matrix.mjs): the rows that need no demo model,
// each in a browser of its own with the extension on two sites, and what
// each must show. The calls are those the library was seen to make, the
// bytes what the local hub served each site.
import { test, expect } from '@playwright/test';
import { ROWS, prepareHubRoot, runRow, verdict } from '../compat/matrix.mjs';

test.describe.configure({ timeout: 180_000 });

/** @type {Awaited<ReturnType<typeof prepareHubRoot>>} */
let hubRoot;
test.beforeAll(async () => {
  hubRoot = await prepareHubRoot();
});
test.afterAll(() => hubRoot?.remove());

const run = (id) => runRow(ROWS.find((r) => r.id === id), { hubRoot });
/** The manager's methods a visit called (the handles' and streams' left out). */
const managerMethods = (visit) => [...new Set(visit.calls.map((c) => c.method).filter((m) => /FileHandles?$/.test(m)))];
const writes = (visit) => visit.calls.filter((c) => c.method === 'write');
/** What site A stored with: the create calls' options as observed. */
const creates = (visit) => visit.calls.filter((c) => c.create).map(({ method, origins, outcome }) => ({ method, origins, outcome }));

test('an Emscripten-style loader: requestFileHandle, one write(blob) of its .wasm, and the second site downloads nothing', async () => {
  const result = await run('emscripten');
  const [a, b] = result.visits;
  expect(verdict(result), JSON.stringify(result.visits)).toBe('shared');
  expect(managerMethods(a)).toEqual(['requestFileHandle']);
  expect(creates(a)).toEqual([{ method: 'requestFileHandle', origins: '*', outcome: 'ok' }]);
  expect(writes(a)).toEqual([expect.objectContaining({ data: 'Blob', outcome: 'ok', bytes: a.hub.heavyBytes })]);
  expect(a.hub.heavyBytes).toBeGreaterThan(10e6);
  expect(b.hub.heavyBytes).toBe(0);
  expect(b.detail).toMatch(/^compiled \d+ bytes: \d+ exports$/);
});

test('a getFileHandle-only caller writing chunk by chunk (WebLLM/wllama style) stores once; the second site reads', async () => {
  const result = await run('chunked');
  const [a, b] = result.visits;
  expect(verdict(result), JSON.stringify(result.visits)).toBe('shared');
  expect(managerMethods(a)).toEqual(['getFileHandle']);
  expect(creates(a)).toEqual([{ method: 'getFileHandle', origins: '*', outcome: 'ok' }]);
  expect(writes(a).length).toBeGreaterThan(1);
  expect(writes(a).reduce((n, w) => n + w.bytes, 0)).toBe(a.hub.heavyBytes);
  expect(b.hub.heavyBytes).toBe(0);
  expect(managerMethods(b)).toEqual(['getFileHandle']);
});

test('wllama 3.13 through its lower-level calls: the GGUF is stored on site A and the model runs on site B without a download', async () => {
  const result = await run('wllama-lowlevel');
  const [a, b] = result.visits;
  expect(verdict(result), JSON.stringify(result.visits)).toBe('shared');
  expect(result.version).toBe('3.13.0');
  expect(managerMethods(a)).toEqual(['getFileHandle']);
  expect(writes(a).length).toBeGreaterThan(1);
  expect(a.hub.heavyBytes).toBeGreaterThan(3e6);
  expect(b.hub.heavyBytes).toBe(0);
  expect(b.detail).toMatch(/^generated /);
});

test("wllama 3.13's loadModelFromUrl() breaks whenever the API exists (its bug: a stand-in API breaks it the same way); turning both sites off works", async () => {
  const known = /^Error: Model file not found after download: /;
  const withUs = await run('wllama-url');
  expect(verdict(withUs)).toBe('breaks');
  const [a] = withUs.visits;
  expect(a.error).toMatch(known);
  // The download went into cross-origin storage, whole and verified: the store did its part.
  expect(creates(a)).toEqual([{ method: 'getFileHandle', origins: '*', outcome: 'ok' }]);
  expect(a.calls.find((c) => c.method === 'close')).toMatchObject({ outcome: 'ok' });

  const standIn = await run('wllama-url-standin');
  expect(standIn.visits[0]).toMatchObject({ ok: false, apiPresent: true });
  expect(standIn.visits[0].error).toMatch(known);

  // The user's way out (the per-site switch): no API on those sites, and wllama works as without the extension.
  const off = await run('wllama-url-sites-off');
  expect(verdict(off), JSON.stringify(off.visits)).toBe('works without the API');
  for (const visit of off.visits) expect(visit).toMatchObject({ ok: true, apiPresent: false, calls: [] });
});
