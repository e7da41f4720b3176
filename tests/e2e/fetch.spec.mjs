// The fetch() integration (issue 13), in windows and workers:
//   fetch(url, {integrity: 'sha256-…', crossOriginStorage: '' | '*' | [origins]})
// A hit answers from the store with no request (the test server logs every
// request); a miss is the browser's own integrity-checked fetch, stored as
// the caller reads it; without the member fetch() is untouched.
import { test, expect } from './fixtures.mjs';
import { makePublic } from './sw-tools.mjs';
import { INC_WASM, integrityOf } from './server.mjs';
import { patternBytes } from '../../scripts/lib/pattern.mjs';
import { createHash } from 'node:crypto';

const hexOf = (bytes) => createHash('sha256').update(bytes).digest('hex');
/** Requests the server saw for paths starting with `prefix`. */
const requestsFor = (server, prefix) => server.requests.filter((r) => r.path.startsWith(prefix));

/** Runs `fn(arg)` in the page's window, or in a new worker of the page (`where`: window, worker, module). */
function inScope(page, where, fn, arg) {
  return page.evaluate(
    ([where, fn, arg]) => {
      if (where === 'window') return (0, eval)(`(${fn})`)(arg);
      const worker = where === 'module' ? startWorker('/workers/rpc-module.js', { type: 'module' }) : startWorker();
      return worker.call(fn, arg);
    },
    [where, String(fn), arg],
  );
}

for (const where of ['window', 'worker', 'module']) {
  test(`in a ${where}: a miss is fetched and stored as it is read, then a hit makes no request`, async ({ openPage, server }) => {
    const page = await openPage('a.test');
    const size = 300_000;
    const seed = { window: 1, worker: 2, module: 3 }[where];
    const bytes = patternBytes(size, seed);
    const integrity = integrityOf(bytes);
    const tag = `${where}-${Date.now()}`;
    const missURL = `/bytes?size=${size}&seed=${seed}&t=${tag}`;
    const miss = await inScope(page, where, async ([url, integrity]) => {
      const response = await fetch(url, { integrity, crossOriginStorage: '' });
      const body = new Uint8Array(await response.arrayBuffer());
      return { ok: response.ok, status: response.status, type: response.type, url: response.url, size: body.length, hash: await sha256Hex(body) };
    }, [missURL, integrity]);
    expect(miss).toMatchObject({ ok: true, status: 200, type: 'basic', size, hash: hexOf(bytes) });
    expect(miss.url).toBe(server.origin('a.test') + missURL);
    expect(requestsFor(server, missURL)).toHaveLength(1);
    // Stored (the body ended once it was): readable through the API at once.
    expect((await page.evaluate((v) => outcome(() => readBack(v)), hexOf(bytes))).ok?.size).toBe(size);

    // A URL that does not exist: only the store can answer it.
    const hitURL = `/nothing-here-${tag}`;
    const hit = await inScope(page, where, async ([url, integrity]) => {
      const response = await fetch(url, { integrity, crossOriginStorage: '' });
      const chunks = [];
      for await (const chunk of response.body) chunks.push(chunk.length);
      return { ok: response.ok, status: response.status, url: response.url, headers: [...response.headers], chunks: chunks.length, size: chunks.reduce((a, b) => a + b, 0) };
    }, [hitURL, integrity]);
    expect(hit).toMatchObject({ ok: true, status: 200, headers: [], size });
    expect(hit.url).toBe(server.origin('a.test') + hitURL);
    expect(requestsFor(server, hitURL), 'a hit sends no request').toEqual([]);
  });
}

test("scopes: '' reaches the site, '*' other sites through the Public Hash List; a refused lookup is an ordinary network outcome", async ({
  context,
  openPage,
  server,
}) => {
  const a = await openPage('a.test');
  const sameSite = patternBytes(5000, 11);
  // Over 500 KiB: GREASE refuses ~1% of smaller files read only through the global grant.
  const GLOBAL_SIZE = 600_000;
  const global = patternBytes(GLOBAL_SIZE, 12);
  await a.evaluate(
    async ([s1, s2]) => {
      for (const [url, integrity, scope] of [s1, s2]) await (await fetch(url, { integrity, crossOriginStorage: scope })).arrayBuffer();
    },
    [
      ['/bytes?size=5000&seed=11', integrityOf(sameSite), ''],
      [`/bytes?size=${GLOBAL_SIZE}&seed=12`, integrityOf(global), '*'],
    ],
  );
  await makePublic(context, [hexOf(global)]);
  const tryHit = (page, bytes, path) =>
    page.evaluate(
      async ([path, integrity]) =>
        outcome(async () => {
          const response = await fetch(path, { integrity, crossOriginStorage: '*' });
          return (await response.arrayBuffer()).byteLength;
        }),
      [path, integrityOf(bytes)],
    );
  const sub = await openPage('sub.a.test');
  const b = await openPage('b.test');
  expect(await tryHit(sub, sameSite, '/absent-1')).toEqual({ ok: 5000 });
  expect(await tryHit(b, global, '/absent-2')).toEqual({ ok: GLOBAL_SIZE });
  expect(requestsFor(server, '/absent-1').concat(requestsFor(server, '/absent-2'))).toEqual([]);
  // Another site's same-site file: the lookup is refused and the network
  // answers (404, so the integrity check fails), exactly as for a hash that
  // was never stored.
  const refused = await tryHit(b, sameSite, '/absent-3');
  const neverStored = await tryHit(b, patternBytes(5000, 13), '/absent-4');
  expect(refused).toEqual({ name: 'TypeError', message: 'Failed to fetch' });
  expect(neverStored).toEqual(refused);
  expect(requestsFor(server, '/absent-3')).toHaveLength(1);
});

test('without the member fetch() is the browser\'s own: the store is neither asked nor written', async ({ openPage, server }) => {
  const page = await openPage('a.test');
  const bytes = patternBytes(4000, 21);
  const integrity = integrityOf(bytes);
  const seen = await page.evaluate(
    async ([integrity, hex]) => {
      const stored = await storeBytes(patternBytes(4000, 21));
      const other = patternBytes(4000, 22);
      const otherHex = await sha256Hex(other);
      const otherIntegrity = `sha256-${btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', other))))}`;
      await (await fetch('/bytes?size=4000&seed=22', { integrity: otherIntegrity })).arrayBuffer();
      return {
        stored: stored === hex,
        // Stored, but not asked for: the 404 stays a failed integrity check.
        notAsked: await outcome(() => fetch('/absent-5', { integrity })),
        notWritten: await outcome(() => readBack(otherHex)),
        identity: { name: fetch.name, length: fetch.length, constructible: (() => { try { new fetch(''); return true; } catch { return false; } })() },
        // crossOriginStorage without integrity has no hash: an ordinary fetch, nothing stored.
        noIntegrity: await outcome(async () => (await fetch('/bytes?size=10&seed=1', { crossOriginStorage: '*' })).status),
      };
    },
    [integrity, hexOf(bytes)],
  );
  expect(seen.stored).toBe(true);
  expect(seen.notAsked).toEqual({ name: 'TypeError', message: 'Failed to fetch' });
  expect(seen.notWritten.name).toBe('NotFoundError');
  expect(seen.identity).toEqual({ name: 'fetch', length: 1, constructible: false });
  expect(seen.noIntegrity).toEqual({ ok: 200 });
  expect(requestsFor(server, '/absent-5')).toHaveLength(1);
});

test('a response that fails its integrity check is rejected as usual, and nothing is stored under either hash', async ({ openPage }) => {
  const page = await openPage('a.test');
  const wrong = `sha256-${Buffer.alloc(32).toString('base64')}`;
  const seen = await page.evaluate(async (wrong) => {
    const response = await outcome(() => fetch('/bytes?size=1000&seed=31', { integrity: wrong, crossOriginStorage: '*' }));
    return {
      response,
      declared: await outcome(() => readBack('0'.repeat(64))),
      actual: await outcome(async () => readBack(await sha256Hex(patternBytes(1000, 31)))),
    };
  }, wrong);
  expect(seen.response).toEqual({ name: 'TypeError', message: 'Failed to fetch' });
  expect(seen.declared.name).toBe('NotFoundError');
  expect(seen.actual.name).toBe('NotFoundError');
});

for (const where of ['window', 'worker']) {
  test(`in a ${where}: WebAssembly.instantiateStreaming accepts a hit, whose status and Content-Type are stable`, async ({ openPage, server }) => {
    const page = await openPage('a.test');
    const result = await inScope(page, where, async (integrity) => {
      const init = { integrity, crossOriginStorage: '' };
      // Warmed from the real URL, then from a URL that does not exist.
      await WebAssembly.instantiateStreaming(fetch('/inc.wasm', init), {});
      const hits = [];
      for (const n of [1, 2]) {
        const response = await fetch(`/no-such-module-${n}.wasm`, init);
        hits.push({ status: response.status, type: response.headers.get('content-type') });
        if (n === 2) {
          const { instance } = await WebAssembly.instantiateStreaming(response, {});
          hits.push(instance.exports.inc(41));
        }
      }
      return hits;
    }, integrityOf(INC_WASM));
    expect(result).toEqual([{ status: 200, type: 'application/wasm' }, { status: 200, type: 'application/wasm' }, 42]);
    expect(requestsFor(server, '/no-such-module-')).toEqual([]);
  });
}

test('Request objects, several integrity values and base64url digests all find the stored file', async ({ openPage, server }) => {
  const page = await openPage('a.test');
  const bytes = patternBytes(2000, 41);
  const integrity = integrityOf(bytes);
  const base64url = integrity.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const seen = await page.evaluate(
    async ([integrity, base64url]) => {
      await storeBytes(patternBytes(2000, 41));
      const size = async (promise) => outcome(async () => (await (await promise).arrayBuffer()).byteLength);
      return {
        request: await size(fetch(new Request('/absent-6', { integrity }), { crossOriginStorage: '' })),
        several: await size(fetch('/absent-7', { integrity: `sha384-${'A'.repeat(64)} ${integrity} sha512-${'B'.repeat(86)}==`, crossOriginStorage: '' })),
        base64url: await size(fetch('/absent-8', { integrity: base64url, crossOriginStorage: '' })),
        post: await outcome(() => fetch('/absent-9', { method: 'POST', body: 'x', integrity, crossOriginStorage: '' })),
      };
    },
    [integrity, base64url],
  );
  expect(seen).toEqual({
    request: { ok: 2000 },
    several: { ok: 2000 },
    base64url: { ok: 2000 },
    // Only GET is looked up: a POST goes to the network (404, integrity fails).
    post: { name: 'TypeError', message: 'Failed to fetch' },
  });
  expect(['/absent-6', '/absent-7', '/absent-8'].flatMap((p) => requestsFor(server, p))).toEqual([]);
  expect(requestsFor(server, '/absent-9')).toHaveLength(1);
});
