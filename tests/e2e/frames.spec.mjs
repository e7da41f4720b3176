// What the browser tells the extension about a caller, end to end: the
// Permissions Policy `cross-origin-storage` (frame tree, response headers,
// the parent's `allow` markup) and the Cross-Origin-Storage-Allow-Origin
// ceiling, each keyed to the document that received it. The attacker's side
// first (a tracker framed on many sites; a document that turned the feature
// off; a frame that tries to pass on what it does not have; list writes
// without the header), each with the control that shows the same path works
// when it should.
import { test, expect, launchBrowser } from './fixtures.mjs';
import { pagePath } from './server.mjs';
import { admin, storeState } from './sw-tools.mjs';

const COS = 'cross-origin-storage';
const POLICY_MESSAGE = 'the Permissions Policy of this document does not allow "cross-origin-storage"';

/** The `n`-th iframe of `page` (at any depth) whose document is on `origin`. */
const frameOn = (page, origin, n = 0) => page.frames().filter((f) => f !== page.mainFrame() && f.url().startsWith(`${origin}/`))[n];

/**
 * Everything a document could try, through the API and the raw channel:
 * reading `own` (stored by the same site) and `shared` (global and public),
 * storing, creating, an invalid call, a raw write-begin.
 */
const everything = (target, { own, shared }) =>
  target.evaluate(
    async ({ own, shared }) => {
      const cos = navigator.crossOriginStorage;
      const raw = await rawChannel()({ op: 'write-begin', hash: hashOf(own), origins: '*' });
      return {
        readOwn: await outcome(() => readBack(own)),
        readShared: await outcome(() => readBack(shared)),
        store: await outcome(() => storeBytes(patternBytes(100, 77), { origins: '*' })),
        create: await outcome(() => cos.getFileHandle(hashOf(own), { create: true })),
        invalid: await outcome(() => cos.getFileHandle({ algorithm: 'MD5', value: 'x' })),
        raw: { ok: raw.ok, error: raw.error },
      };
    },
    { own, shared },
  );

/** What `everything` gets when the policy refuses: the same constant error everywhere. */
const REFUSED = {
  readOwn: { name: 'NotAllowedError', message: POLICY_MESSAGE },
  readShared: { name: 'NotAllowedError', message: POLICY_MESSAGE },
  store: { name: 'NotAllowedError', message: POLICY_MESSAGE },
  create: { name: 'NotAllowedError', message: POLICY_MESSAGE },
  invalid: { name: 'NotAllowedError', message: POLICY_MESSAGE },
  raw: { ok: false, error: { name: 'NotAllowedError', code: 'permissions-policy', message: POLICY_MESSAGE } },
};

/** Whether `target` can use the store: a read of a global public file. */
const canRead = (target, hex) => target.evaluate((v) => outcome(() => readBack(v)).then((r) => r.ok?.hash === v || r.name), hex);

/**
 * c.test (the tracker) stores its own identifier; a.test a public global
 * file, larger than GREASE's limit (500 KiB) so that no read of it is refused at random.
 */
async function plant({ context, serviceWorker, openPage }) {
  const own = await (await openPage('c.test')).evaluate(() => storeBytes(patternBytes(64, 90)));
  const shared = await (await openPage('a.test')).evaluate(() => storeBytes(patternBytes(600_000, 91), { origins: '*' }));
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [shared] });
  return { own, shared };
}

const stored = async (context) => {
  const { blobs, tmp, entries } = await storeState(context);
  return { blobs, tmp, entries };
};

test('a tracker iframe without allow, framed on two sites, stores nothing and reads nothing', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const files = await plant({ context, serviceWorker, openPage });
  const tracker = server.origin('c.test');
  const before = await stored(context);
  const seen = {};
  for (const host of ['a.test', 'b.test']) {
    const page = await openPage(host, pagePath({ frames: [{ src: `${tracker}/page.html` }] }));
    seen[host] = await everything(frameOn(page, tracker), files);
    // Its parent, top-level, is unaffected.
    expect(await canRead(page, files.shared), host).toBe(true);
  }
  expect(seen['a.test']).toEqual(REFUSED);
  expect(seen['b.test']).toEqual(REFUSED);
  expect(await stored(context), 'nothing was stored').toEqual(before);
  // The control: the same tracker, top-level, reads its identifier and the shared file.
  const top = await openPage('c.test');
  expect(await top.evaluate((v) => outcome(() => readBack(v)), files.own)).toMatchObject({ ok: { hash: files.own } });
  expect(await canRead(top, files.shared)).toBe(true);
});

test('an iframe its parent allows uses the store, and so does a same-origin one without allow', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const files = await plant({ context, serviceWorker, openPage });
  const [tracker, a] = [server.origin('c.test'), server.origin('a.test')];
  const page = await openPage(
    'b.test',
    pagePath({ frames: [{ src: `${tracker}/page.html`, allow: COS }, { src: `${tracker}/page.html`, allow: `camera; ${COS} ${tracker}` }] }),
  );
  // The parent's own listeners never see how the extension finds the frames' elements.
  await page.evaluate(() => {
    window.seen = [];
    addEventListener('message', (e) => window.seen.push(e.data), true);
  });
  for (const n of [0, 1]) {
    const got = await everything(frameOn(page, tracker, n), files);
    expect(got.readOwn, `frame ${n}`).toMatchObject({ ok: { hash: files.own } });
    expect(got.readShared, `frame ${n}`).toMatchObject({ ok: { hash: files.shared } });
    expect(got.store.ok, `frame ${n}`).toHaveLength(64);
    expect(got.invalid.name, `frame ${n}: validation runs once the policy allows`).toBe('TypeError');
  }
  expect(await page.evaluate(() => window.seen)).toEqual([]);
  const sameOrigin = await openPage('a.test', pagePath({ frames: [{ src: `${a}/page.html` }] }));
  expect(await canRead(frameOn(sameOrigin, a, 0), files.shared)).toBe(true);
});

test("a page its own service worker served uses the store, and its cross-origin frames still need allow", async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const files = await plant({ context, serviceWorker, openPage });
  const tracker = server.origin('c.test');
  const page = await openPage('a.test');
  await page.evaluate(async () => {
    await navigator.serviceWorker.register('/page-sw.js');
    await navigator.serviceWorker.ready;
  });
  await page.goto(`${server.origin('a.test')}/from-sw.html?frame=${encodeURIComponent(`${tracker}/page.html`)}`);
  await expect(page.locator('#from-sw')).toBeVisible();
  // The extension never saw this response: it counts as sending no header.
  expect(await canRead(page, files.shared)).toBe(true);
  expect((await page.evaluate(() => outcome(() => storeBytes(patternBytes(1000, 93))))).ok).toHaveLength(64);
  expect(await everything(frameOn(page, tracker), files)).toEqual(REFUSED);
});

test('Permissions-Policy: cross-origin-storage=() turns the store off for the document and its frames, even same-origin', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const files = await plant({ context, serviceWorker, openPage });
  const [a, b] = [server.origin('a.test'), server.origin('b.test')];
  const withFrames = (pp) => pagePath({ pp, frames: [{ src: `${a}/page.html` }, { src: `${b}/page.html`, allow: COS }] });
  const off = await openPage('a.test', withFrames(`${COS}=()`));
  expect(await everything(off, files)).toEqual(REFUSED);
  expect(await everything(frameOn(off, a, 0), files), 'same-origin frame').toEqual(REFUSED);
  expect(await everything(frameOn(off, b), files), 'allowed cross-origin frame').toEqual(REFUSED);
  // Each declaration reads as the spec says: [the page, its same-origin frame, b.test's allowed frame].
  const NO = 'NotAllowedError';
  const cases = [
    [`${COS}=(self)`, [true, true, NO]],
    [`${COS}=(self "${b}")`, [true, true, true]],
    [`${COS}=("${b}")`, [NO, NO, NO]],
    [`${COS}=*`, [true, true, true]],
    ['camera=()', [true, true, true]],
    // Not a Structured Field dictionary: browsers ignore the whole header.
    ['Cross-Origin-Storage=()', [true, true, true]],
  ];
  for (const [pp, expected] of cases) {
    const page = await openPage('a.test', withFrames(pp));
    const got = [page, frameOn(page, a, 0), frameOn(page, b)];
    expect(await Promise.all(got.map((target) => canRead(target, files.shared))), pp).toEqual(expected);
    await page.close();
  }
});

test('a frame cannot pass on what it does not have: allow inside a parent that may not use the store is refused', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const files = await plant({ context, serviceWorker, openPage });
  const [b, c] = [server.origin('b.test'), server.origin('c.test')];
  const nested = (bAllow, pp) =>
    pagePath({ pp, frames: [{ src: b + pagePath({ frames: [{ src: `${c}/page.html`, allow: COS }] }), allow: bAllow }] });
  // b.test is not allowed by a.test, yet grants c.test: c.test gets nothing.
  const page = await openPage('a.test', nested(''));
  expect(await everything(frameOn(page, b), files)).toEqual(REFUSED);
  expect(await everything(frameOn(page, c), files)).toEqual(REFUSED);
  // a.test turned it off with its header, yet allows b.test, which allows c.test.
  const off = await openPage('a.test', nested(COS, `${COS}=()`));
  expect(await everything(frameOn(off, b), files)).toEqual(REFUSED);
  expect(await everything(frameOn(off, c), files)).toEqual(REFUSED);
  // The control: allowed at each level, c.test may use it.
  const delegated = await openPage('a.test', nested(COS));
  expect(await canRead(frameOn(delegated, b), files.shared)).toBe(true);
  expect(await canRead(frameOn(delegated, c), files.shared)).toBe(true);
});

test("list writes share only with the origins the writing document's Allow-Origin header names", async ({ openPage, server }) => {
  const [a, b, c] = ['a.test', 'b.test', 'c.test'].map((h) => server.origin(h));
  const warnings = [];
  const watch = (page) => page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const write = (target, seed, origins) => target.evaluate(({ seed, origins }) => storeBytes(patternBytes(500, seed), { origins }), { seed, origins });

  // No header: the list authorizes nobody; the write succeeds, same-site only, with a warning.
  const plain = await openPage('a.test');
  watch(plain);
  const unheaded = await write(plain, 101, [b]);
  expect(warnings.join('\n')).toContain(b);
  // With the header: exactly the origins it names.
  const headed = await openPage('a.test', pagePath({ ao: b, frames: [{ src: `${a}/page.html` }] }));
  const authorized = await write(headed, 102, [b, c]);
  // The header is the document's own: its same-origin iframe, and the next
  // document in the same tab, have none.
  const framed = await write(frameOn(headed, a, 0), 103, [b]);
  await headed.goto(`${a}/page.html`);
  const navigated = await write(headed, 104, [b]);

  const readers = Object.fromEntries(await Promise.all(['b.test', 'c.test', 'sub.a.test'].map(async (h) => [h, await openPage(h)])));
  const reads = async (hex) =>
    Object.fromEntries(await Promise.all(Object.entries(readers).map(async ([h, p]) => [h, (await p.evaluate((v) => outcome(() => readBack(v)), hex)).ok?.hash === hex])));
  expect(await reads(authorized), 'with the header').toEqual({ 'b.test': true, 'c.test': false, 'sub.a.test': true });
  for (const [what, hex] of Object.entries({ unheaded, framed, navigated })) {
    expect(await reads(hex), what).toEqual({ 'b.test': false, 'c.test': false, 'sub.a.test': true });
  }
});

test("a document restored from the back/forward cache keeps its own headers, and never gets another document's", async ({
  server,
  userDataDir,
}) => {
  // Playwright turns the cache off; users have it. A document that has a port
  // to the extension is not cached, so each one leaves before its first write.
  const context = await launchBrowser(userDataDir, server, { backForwardCache: true });
  try {
    const [a, b, c] = ['a.test', 'b.test', 'c.test'].map((h) => server.origin(h));
    const page = await context.newPage();
    const cached = () => page.evaluate(() => window.restored);
    const watchRestores = () => page.evaluate(() => addEventListener('pageshow', (e) => (window.restored = e.persisted)));
    await page.goto(a + pagePath({ ao: b }));
    await watchRestores();
    await page.goto(`${c}/page.html`);
    await watchRestores();
    await page.goBack({ waitUntil: 'commit' });
    await page.waitForFunction(() => window.restored !== undefined);
    expect(await cached(), 'a.test came back from the cache').toBe(true);
    const own = await page.evaluate((b) => storeBytes(patternBytes(300, 112), { origins: [b] }), b);
    await page.goForward({ waitUntil: 'commit' });
    await page.waitForFunction(() => window.restored !== undefined);
    expect(await cached(), 'c.test came back from the cache').toBe(true);
    const other = await page.evaluate((b) => storeBytes(patternBytes(300, 113), { origins: [b] }), b);
    const reader = await context.newPage();
    await reader.goto(`${b}/page.html`);
    const readable = (hex) => reader.evaluate((v) => outcome(() => readBack(v)).then((r) => r.ok?.hash === v), hex);
    expect(await readable(own), "the restored document's own header").toBe(true);
    expect(await readable(other), 'a document without the header, restored after one with it').toBe(false);
  } finally {
    await context.close();
  }
});

test('a page keeps its own headers while hundreds of frames come and go in it', async ({ openPage, server }) => {
  test.setTimeout(180_000);
  const [b, c] = ['b.test', 'c.test'].map((h) => server.origin(h));
  const page = await openPage('a.test', pagePath({ ao: b }));
  // More documents than the extension keeps records of per tab (MAX_DOCUMENTS_PER_TAB, 256).
  for (let batch = 0; batch < 15; batch++) {
    await page.evaluate(
      ({ c, batch }) => {
        document.querySelectorAll('iframe').forEach((f) => f.remove());
        return Promise.all(
          Array.from({ length: 20 }, (_, i) => {
            const frame = document.createElement('iframe');
            frame.src = `${c}/page.html?${batch}-${i}`;
            document.body.append(frame);
            return new Promise((r) => (frame.onload = r));
          }),
        );
      },
      { c, batch },
    );
  }
  const shared = await page.evaluate((b) => storeBytes(patternBytes(300, 120), { origins: [b] }), b);
  // A frame added now, allowed, can use the store (its ancestors' records are there).
  await page.evaluate((c) => {
    const frame = document.createElement('iframe');
    frame.allow = 'cross-origin-storage';
    frame.src = `${c}/page.html?last`;
    document.body.append(frame);
    return new Promise((r) => (frame.onload = r));
  }, c);
  const last = page.frames().find((f) => f.url().endsWith('?last'));
  expect(await last.evaluate(() => outcome(() => storeBytes(patternBytes(100, 121)))).then((r) => r.ok?.length)).toBe(64);
  const reader = await openPage('b.test');
  expect((await reader.evaluate((v) => outcome(() => readBack(v)), shared)).ok?.hash, "the page's own header still counts").toBe(shared);
});
