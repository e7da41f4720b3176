// Probing and the remaining attacker paths (attack.spec covers forged
// origins, borrowed channels, sandboxed frames, insecure pages, session
// hijacking and poisoning): a cross-site page must not tell a hidden file
// from a missing one, by error or (roughly) by time; downgrades and widening
// without the bytes change nothing; data:, blob: and file: documents get no API.
import { readFileSync } from 'node:fs';
import { writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect } from './fixtures.mjs';
import { pagePath } from './server.mjs';
import { admin, distribution } from './sw-tools.mjs';

const ROUNDS = Number(process.env.COS_PROBE_ROUNDS ?? (process.env.COS_LONG === '1' ? 2000 : 300));

/** a.test stores: same-site only, listed for c.test, global; returns their hashes. */
async function victimFiles(openPage, server) {
  // Its Cross-Origin-Storage-Allow-Origin header authorizes the list.
  const a = await openPage('a.test', pagePath({ ao: server.origin('c.test') }));
  const files = await a.evaluate(
    async (c) => ({
      sameSite: await storeBytes(patternBytes(40_000, 61)),
      listed: await storeBytes(patternBytes(40_000, 62), { origins: [c] }),
      // Above GREASE's limit (500 KiB), so b.test's read of it is never refused at random.
      global: await storeBytes(patternBytes(600_000, 63), { origins: '*' }),
    }),
    server.origin('c.test'),
  );
  return { a, files };
}

test('a cross-site prober gets the same NotFoundError for hidden and missing hashes, through every entry point, in about the same time', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  test.setTimeout(120_000);
  const { files } = await victimFiles(openPage, server);
  // Controls: the hidden files do exist for the right callers.
  const sub = await openPage('sub.a.test');
  expect((await sub.evaluate((v) => outcome(() => readBack(v)), files.sameSite)).ok?.hash).toBe(files.sameSite);
  const c = await openPage('c.test');
  expect((await c.evaluate((v) => outcome(() => readBack(v)), files.listed)).ok?.hash).toBe(files.listed);

  const b = await openPage('b.test');
  const missing = '5a'.repeat(32);
  const probe = (hex) =>
    b.evaluate(async (hex) => {
      const cos = navigator.crossOriginStorage;
      const send = rawChannel();
      const raw = async (op) => {
        const r = await send({ op, hash: hashOf(hex) });
        return { ok: r.ok, error: r.error, fileSize: r.fileSize };
      };
      return {
        get: await outcome(() => cos.getFileHandle(hashOf(hex))),
        request: await outcome(() => cos.requestFileHandle(hashOf(hex))),
        lowercaseAlgorithm: await outcome(() => cos.getFileHandle({ algorithm: 'sha-256', value: hex })),
        plural: await outcome(() => cos.requestFileHandles([hashOf(hex)])),
        rawOpen: await raw('open'),
        rawRead: await raw('read'),
        // A create handle exists for anything, and never reads.
        createThenRead: await outcome(async () => (await cos.getFileHandle(hashOf(hex), { create: true })).getFile()),
      };
    }, hex);
  const reference = await probe(missing);
  expect(reference.get).toMatchObject({ name: 'NotFoundError' });
  expect(reference.rawRead).toMatchObject({ ok: false, error: { name: 'NotFoundError', code: 'not-found' } });
  expect(reference.createThenRead).toMatchObject({ name: 'NotAllowedError' });
  expect(await probe(files.sameSite), 'same-site-only file').toEqual(reference);
  expect(await probe(files.listed), 'file listed for another origin').toEqual(reference);

  // A global file that is not on the Public Hash List is hidden the same way; once listed, it is shared.
  expect(await probe(files.global), 'global file not on the Public Hash List').toEqual(reference);
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [files.global] });
  expect((await b.evaluate((v) => outcome(() => readBack(v)), files.global)).ok?.hash).toBe(files.global);

  // Timing: the three kinds interleaved, getFileHandle round trips measured in the page.
  const kinds = { missing: [missing], sameSite: [files.sameSite], listed: [files.listed], visible: [files.global] };
  const times = await b.evaluate(({ kinds, rounds }) => timeLookups(kinds, rounds), { kinds, rounds: ROUNDS });
  const d = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, distribution(v)]));
  const fmt = (x) => `median ${x.median.toFixed(2)} ms, p90 ${x.p90.toFixed(2)} ms`;
  console.log(`[probe] ${ROUNDS} rounds each (ms, page-measured getFileHandle):`);
  for (const [k, x] of Object.entries(d)) console.log(`[probe]   ${k.padEnd(8)} ${fmt(x)}`);
  // A loose bound: the machine is shared, so only a gross difference fails.
  for (const k of ['sameSite', 'listed']) {
    const gap = Math.abs(d[k].median - d.missing.median);
    expect(gap, `${k} vs missing median gap`).toBeLessThanOrEqual(Math.max(1, 0.5 * d.missing.median));
  }
});

test('downgrades: weaker algorithms, near-miss hashes and all-or-nothing plural reads reveal nothing', async ({ openPage, server }) => {
  const { files } = await victimFiles(openPage, server);
  const b = await openPage('b.test');
  const missing = '5a'.repeat(32);
  const ask = (hex) =>
    b.evaluate(async ({ hex, global }) => {
      const cos = navigator.crossOriginStorage;
      return {
        sha1: await outcome(() => cos.getFileHandle({ algorithm: 'SHA-1', value: hex.slice(0, 40) })),
        sha1Full: await outcome(() => cos.getFileHandle({ algorithm: 'SHA-1', value: hex })),
        sha512: await outcome(() => cos.getFileHandle({ algorithm: 'SHA-512', value: hex + hex })),
        uppercase: await outcome(() => cos.getFileHandle({ algorithm: 'SHA-256', value: hex.toUpperCase() })),
        prefix: await outcome(() => cos.getFileHandle(hashOf(hex.slice(0, 63)))),
        padded: await outcome(() => cos.getFileHandle(hashOf(` ${hex}`))),
        // The legacy plural form: a visible file beside the probed one must not leak a partial answer.
        plural: await outcome(async () => (await cos.requestFileHandles([hashOf(global), hashOf(hex)])).length),
        pluralCreate: await outcome(async () => {
          const handles = await cos.requestFileHandles([hashOf(global), hashOf(hex)], { create: true });
          return Promise.all(handles.map((h) => h.getFile().then(() => 'read', (e) => e.name)));
        }),
      };
    }, { hex, global: files.global });
  // Validation messages quote the caller's own input (e.g. the first uppercase digit): compare names there.
  const comparable = (r) => ({ ...r, uppercase: r.uppercase.name, prefix: r.prefix.name, padded: r.padded.name });
  const reference = await ask(missing);
  expect(reference).toMatchObject({
    sha1: { name: 'NotSupportedError' },
    sha1Full: { name: 'NotSupportedError' },
    sha512: { name: 'NotSupportedError' },
    uppercase: { name: 'TypeError' },
    prefix: { name: 'TypeError' },
    padded: { name: 'TypeError' },
    plural: { name: 'NotFoundError' },
    pluralCreate: { ok: ['NotAllowedError', 'NotAllowedError'] },
  });
  for (const hex of [files.sameSite, files.listed]) expect(comparable(await ask(hex))).toEqual(comparable(reference));
});

test('widening without the bytes: every way of closing a writable without the right bytes changes nothing', async ({ openPage, server }) => {
  const { files } = await victimFiles(openPage, server);
  const b = await openPage('b.test');
  const attempts = await b.evaluate(
    async ({ hex, self }) => {
      const send = rawChannel();
      const begin = async (origins) => (await send({ op: 'write-begin', hash: hashOf(hex), origins })).value?.session;
      const out = {};
      let s = await begin('*');
      out.closeEmpty = await send({ op: 'close', session: s });
      s = await begin('*');
      out.zeroesOfTheRightSize = [await send({ op: 'write', session: s }, new Blob([new Uint8Array(40_000)])), await send({ op: 'close', session: s })];
      s = await begin([self]);
      out.sparseTruncate = [await send({ op: 'truncate', session: s, size: 40_000 }), await send({ op: 'close', session: s })];
      s = await begin('*');
      out.seekPastEnd = [await send({ op: 'seek', session: s, position: 39_999 }), await send({ op: 'write', session: s }, new Blob(['x'])), await send({ op: 'close', session: s })];
      s = await begin('*');
      out.closeTwice = [await send({ op: 'close', session: s }), await send({ op: 'close', session: s })];
      s = await begin('*');
      out.abortThenClose = [await send({ op: 'abort', session: s }), await send({ op: 'close', session: s })];
      // Through the public API: a create handle with origins '*', then abort.
      out.apiAbort = await outcome(async () => {
        const w = await (await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true, origins: '*' })).createWritable();
        await w.write(new Uint8Array(100));
        await w.abort();
      });
      return out;
    },
    { hex: files.sameSite, self: server.origin('b.test') },
  );
  expect(attempts.closeEmpty).toMatchObject({ ok: false, error: { name: 'DataError' } });
  expect(attempts.zeroesOfTheRightSize[1]).toMatchObject({ ok: false, error: { name: 'DataError', code: 'integrity-mismatch' } });
  expect(attempts.sparseTruncate[1]).toMatchObject({ ok: false, error: { name: 'DataError' } });
  expect(attempts.seekPastEnd[2]).toMatchObject({ ok: false, error: { name: 'DataError' } });
  expect(attempts.closeTwice[1]).toMatchObject({ ok: false, error: { name: 'InvalidStateError' } });
  expect(attempts.abortThenClose[1]).toMatchObject({ ok: false, error: { name: 'InvalidStateError' } });
  expect(attempts.apiAbort).toEqual({ ok: undefined });
  for (const host of ['b.test', 'c.test']) {
    const page = host === 'b.test' ? b : await openPage(host);
    expect(await page.evaluate((v) => outcome(() => readBack(v)), files.sameSite), host).toMatchObject({ name: 'NotFoundError' });
  }
});

/** What a document sees: the API, and whether any bridge answers a connect on itself or on its parent. */
const inspect = (target) =>
  target.evaluate(async () => ({
    origin: self.origin,
    api: 'crossOriginStorage' in navigator,
    manager: typeof globalThis.CrossOriginStorageManager,
    self: await rawChannel()({ op: 'open', hash: { algorithm: 'SHA-256', value: '0'.repeat(64) } }, undefined, 1500),
    parent:
      parent === self
        ? 'top'
        : await rawChannel(parent)({ op: 'open', hash: { algorithm: 'SHA-256', value: '0'.repeat(64) } }, undefined, 1500),
  }));

/**
 * The in-page helpers (rawChannel), inline, for documents made from text:
 * data:, blob: and file: pages (an opaque or file origin cannot be counted on
 * to load them from the test server).
 */
const HELPERS = `<script>${readFileSync(new URL('./pages/helpers.js', import.meta.url), 'utf8')}</script>`;

const NOTHING = { api: false, manager: 'undefined', self: { timeout: true } };

test('data: and blob: documents, top-level and framed, get no API and no bridge', async ({ context, openPage, server }) => {
  const a = await openPage('a.test');
  // Framed: a data: iframe (opaque origin) and a blob: iframe (a.test's origin, but no content script).
  await a.evaluate((helpers) => {
    const html = `<!doctype html>${helpers}<p>x</p>`;
    const data = document.createElement('iframe');
    data.src = `data:text/html,${encodeURIComponent(html)}`;
    data.name = 'data';
    const blob = document.createElement('iframe');
    blob.src = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
    blob.name = 'blob';
    document.body.append(data, blob);
    return Promise.all([data, blob].map((f) => new Promise((r) => (f.onload = r))));
  }, HELPERS);
  const dataFrame = a.frames().find((f) => f.name() === 'data');
  const blobFrame = a.frames().find((f) => f.name() === 'blob');
  expect(await inspect(dataFrame)).toMatchObject({ ...NOTHING, origin: 'null', parent: { timeout: true } });
  expect(await inspect(blobFrame)).toMatchObject({ ...NOTHING, origin: server.origin('a.test'), parent: { timeout: true } });

  // Top level: a data: page, and a blob: page opened by a.test.
  const dataPage = await context.newPage();
  await dataPage.goto(`data:text/html,${encodeURIComponent(`<!doctype html>${HELPERS}<p>data</p>`)}`);
  expect(await inspect(dataPage)).toMatchObject({ ...NOTHING, origin: 'null', parent: 'top' });
  const [blobPage] = await Promise.all([
    context.waitForEvent('page'),
    a.evaluate((helpers) => void window.open(URL.createObjectURL(new Blob([`<!doctype html>${helpers}<p>blob</p>`], { type: 'text/html' }))), HELPERS),
  ]);
  await blobPage.waitForLoadState();
  expect(blobPage.url()).toMatch(/^blob:/);
  expect(await inspect(blobPage)).toMatchObject({ ...NOTHING, origin: server.origin('a.test'), parent: 'top' });
});

test('file:// pages get no API and no bridge', async ({ context }) => {
  const path = join(tmpdir(), `cos-probe-${process.pid}-${Date.now()}.html`);
  await writeFile(path, `<!doctype html>${HELPERS}<p>file</p>`);
  try {
    const page = await context.newPage();
    await page.goto(`file://${path}`);
    expect(await inspect(page)).toMatchObject({ ...NOTHING, parent: 'top' });
    expect(await page.evaluate(() => typeof globalThis.chrome?.runtime?.sendMessage)).toBe('undefined');
  } finally {
    await rm(path, { force: true });
  }
});
