// Issue 16, the developer tools: the record of a tab's calls (read through
// the DevTools panel's port, from an extension page: the admin tier), driven
// by pages that trigger every refusal cause; the panel page rendered
// standalone for a tab, in light and dark mode; the console hint; and the
// attacker's side: no page, content script or other extension reads the
// record, no tab's record holds another tab's calls, and an incognito tab's
// record stays in the incognito worker.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, launchBrowser, EXTENSION_DIR, REPO_ROOT } from './fixtures.mjs';
import { createHash } from 'node:crypto';
import { integrityOf, libScript, pagePath } from './server.mjs';
import { patternBytes } from '../../scripts/lib/pattern.mjs';
import { admin, extensionId, liveWorker } from './sw-tools.mjs';
import { DEBUG_PORT_ARG, allowInIncognito, browserDevTools } from './cdp-tools.mjs';

const DEVTOOLS_PORT_NAME = 'cross-origin-storage:devtools';
const HINT = 'crossOriginStorage: a file was not available; open the Cross-Origin Storage panel in DevTools to see why';
const PROBES_PER_WINDOW = 16;

/** The id of the tab showing `page` (asked of the extension, which sees its tabs' URLs). */
const tabIdOf = (serviceWorker, page) =>
  serviceWorker.evaluate((url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url)?.id), page.url());

/**
 * An extension page (the admin tier) watching `tabId`'s record over the
 * panel's port, as panel.js does: `calls()` is what it was sent, resets
 * applied. Returns once the record so far has arrived.
 */
async function watch(context, serviceWorker, tabId) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/explanations.html`);
  await page.evaluate(
    ({ name, tabId }) => {
      window.record = [];
      const port = chrome.runtime.connect({ name });
      // Resolved by the worker's first message: everything it had for the tab.
      const { promise, resolve } = Promise.withResolvers();
      port.onMessage.addListener((message) => {
        if (message.call) return window.record.push(message.call);
        if (message.reset) window.record = [];
        for (const call of message.calls) if (!window.record.some((c) => c.seq === call.seq)) window.record.push(call);
        resolve();
      });
      port.postMessage({ watch: tabId });
      return promise;
    },
    { name: DEVTOOLS_PORT_NAME, tabId },
  );
  return {
    page,
    calls: () => page.evaluate(() => window.record),
    /** Waits until the record has `n` calls (it arrives after the page's reply). */
    async atLeast(n) {
      await expect.poll(() => page.evaluate(() => window.record.length)).toBeGreaterThanOrEqual(n);
      return page.evaluate(() => window.record);
    },
  };
}

/** `{name, message}` of what `fn` threw in `target`, or `{ok}`. */
const attempt = (target, fn, arg) => target.evaluate(`outcome(() => (${fn})(${JSON.stringify(arg)}))`);

test('every refusal cause reaches the panel\'s record with its reason; the page gets one answer', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  test.setTimeout(90_000);
  const b = await openPage('b.test');
  const planted = await b.evaluate(() =>
    Promise.all([storeBytes(patternBytes(3000, 1)), storeBytes(patternBytes(3000, 2), { origins: '*' })]),
  );
  const [sameSiteOfB, globalNotListed] = planted;
  // a.test, with a b.test iframe its markup does not allow.
  const a = await openPage('a.test', pagePath({ frames: [{ src: `${server.origin('b.test')}/page.html` }] }));
  const frame = a.frames().find((f) => f.url().startsWith(server.origin('b.test')));
  const tabId = await tabIdOf(serviceWorker, a);
  const panel = await watch(context, serviceWorker, tabId);

  const missing = await attempt(a, (v) => navigator.crossOriginStorage.requestFileHandles([hashOf(v)]), 'e'.repeat(64));
  const scoped = await attempt(a, (v) => readBack(v), sameSiteOfB);
  const unlisted = await attempt(a, (v) => readBack(v), globalNotListed);
  const policy = await attempt(frame, (v) => navigator.crossOriginStorage.requestFileHandle(hashOf(v)), 'e'.repeat(64));
  const ceiling = await attempt(a, (c) => storeBytes(patternBytes(500, 3), { origins: [c] }), server.origin('c.test'));
  const wrong = await attempt(a, () => storeBytes(patternBytes(700, 4), {}, 'f'.repeat(64)));
  await admin(context, serviceWorker, { op: 'settings', settings: { budgetBytes: 4096 } });
  const quota = await attempt(a, () => storeBytes(patternBytes(10_000, 5)));
  await admin(context, serviceWorker, { op: 'settings', settings: {} });
  const own = await a.evaluate(() => storeBytes(patternBytes(800, 6)));
  const read = await attempt(a, (v) => readBack(v), own);
  // 3 distinct lookups so far (a file the site stored costs nothing): 13 more spend the window.
  const lookups = await a.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 15; i++) out.push(await outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(i.toString(16).padStart(64, '0')))));
    return out;
  });

  expect(missing).toEqual({ name: 'NotFoundError', message: 'no file with this hash is available' });
  for (const same of [scoped, unlisted, ...lookups]) expect(same, 'one answer for every refusal').toEqual(missing);
  expect(policy.name).toBe('NotAllowedError');
  expect(ceiling.ok).toEqual(expect.any(String));
  expect(wrong.name).toBe('DataError');
  expect(quota.name).toBe('QuotaExceededError');
  expect(read.ok.hash).toBe(own);

  const calls = await panel.atLeast(31);
  const about = (predicate) => calls.filter(predicate);
  const single = (predicate, what) => {
    const found = about(predicate);
    expect(found, what).toHaveLength(1);
    return found[0];
  };
  const a_ = server.origin('a.test');
  // No call of the b.test tab is in a.test's tab's record; the frame's are.
  expect(new Set(calls.map((c) => c.origin))).toEqual(new Set([a_, server.origin('b.test')]));
  expect(about((c) => c.origin === server.origin('b.test')).every((c) => c.frameId !== 0)).toBe(true);

  const m = single((c) => c.trace.hash === 'e'.repeat(64) && c.frameId === 0, 'the miss');
  expect(m).toMatchObject({ reply: { ok: false, name: 'NotFoundError' }, trace: { method: 'requestFileHandles', refusal: 'missing' } });
  expect(m.ms).toEqual(expect.any(Number));
  expect(single((c) => c.trace.hash === sameSiteOfB, 'out of scope').trace).toMatchObject({ refusal: 'out-of-scope', listedOrigins: 0 });
  expect(single((c) => c.trace.hash === globalNotListed, 'not on the list').trace.refusal).toBe('not-on-public-list');
  const p = single((c) => c.frameId !== 0, 'the frame\'s call');
  expect(p.trace).toMatchObject({
    method: 'requestFileHandle',
    policy: { frame: 1, origin: server.origin('b.test'), parent: a_, cause: { kind: 'iframe-allow', allow: null } },
  });
  const ceilingCalls = about((c) => c.trace.ceiling);
  expect(ceilingCalls.map((c) => c.trace.op)).toEqual(['write-begin', 'close']);
  expect(ceilingCalls[1]).toMatchObject({ reply: { ok: true }, trace: { ceiling: { header: null, dropped: [server.origin('c.test')] }, grantsAfter: { listed: [] } } });
  const mismatch = single((c) => c.trace.op === 'close' && !c.reply.ok && c.reply.name === 'DataError', 'the DataError');
  const actual = createHash('sha256').update(patternBytes(700, 4)).digest('hex');
  expect(mismatch.trace).toMatchObject({ verified: false, actualHash: actual, hash: 'f'.repeat(64) });
  const overQuota = single((c) => c.reply.name === 'QuotaExceededError', 'the quota refusal');
  expect(overQuota.trace.quota).toEqual({ kind: 'origin', chargedBytes: expect.any(Number), addingBytes: expect.any(Number), limitBytes: 4096 });
  expect(overQuota.reply.message).not.toContain('4096');
  const stored = single((c) => c.trace.op === 'close' && c.trace.hash === own, 'the verified write');
  expect(stored.trace).toMatchObject({ verified: true, alreadyStored: false, grantsAfter: { global: false, storers: 1 } });
  expect(single((c) => c.trace.op === 'read' && c.trace.hash === own, 'the read').trace).toMatchObject({ method: 'getFile', grant: 'storer', bytes: 800 });
  const budget = about((c) => c.trace.refusal === 'probe-budget');
  expect(budget, 'the 17th and 18th distinct lookups').toHaveLength(2);
  expect(budget[0].trace.budget).toEqual({ site: 'http://a.test', limit: PROBES_PER_WINDOW, noRoom: false });

  // A click in the page (a trusted gesture) replenishes the budget: the record shows a plain miss again.
  await a.mouse.click(5, 5);
  await expect
    .poll(async () => {
      await a.evaluate(() => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf('d'.repeat(64)))));
      return (await panel.calls()).at(-1).trace.refusal;
    })
    .toBe('missing');

  // The user turns the API off for the site: the loaded page keeps it, refused; the record says why.
  await admin(context, serviceWorker, { op: 'disable-site', origin: a_ });
  expect((await attempt(a, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), 'c'.repeat(64))).name).toBe('NotAllowedError');
  await expect.poll(async () => (await panel.calls()).at(-1)).toMatchObject({ reply: { code: 'disabled-for-site' }, trace: { op: 'open', hash: 'c'.repeat(64) } });
});

test('GREASE: a site reading small public files until the engine refuses one sees why in the record, and the page a plain miss', async ({
  context,
  serviceWorker,
  openPage,
}) => {
  test.setTimeout(120_000);
  // 16 small files (under GREASE's 500 KiB), shared with every site and on the list: only GREASE can refuse them.
  const b = await openPage('b.test');
  const files = await b.evaluate(() => Promise.all(Array.from({ length: 16 }, (_, i) => storeBytes(patternBytes(1000, 100 + i), { origins: '*' }))));
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: files });
  const a = await openPage('a.test');
  const panel = await watch(context, serviceWorker, await tabIdOf(serviceWorker, a));
  const open = (v) => attempt(a, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), v);
  const newWindow = async () => {
    await a.mouse.click(5, 5);
    // The bridge reports one gesture per second at most.
    await a.waitForTimeout(1100);
  };
  // Each round reads the 16 files (a window's whole budget); a click then
  // starts a new window, in which every read is drawn again. About 1 read in
  // 100 is refused: the chance that 60 rounds (960 reads) see none is under 1 in 10,000.
  let refused = null;
  for (let round = 0; round < 60 && !refused; round++) {
    const outcomes = await a.evaluate((files) => Promise.all(files.map((v) => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(v))))), files);
    const i = outcomes.findIndex((o) => !o.ok);
    if (i >= 0) refused = { hash: files[i], answer: outcomes[i], again: await open(files[i]) };
    else await newWindow();
  }
  expect(refused, 'a GREASE refusal within 960 reads').not.toBeNull();
  expect(refused.again, 'the same answer within the window').toEqual(refused.answer);
  await expect
    .poll(async () => (await panel.calls()).filter((c) => c.trace.hash === refused.hash && !c.reply.ok).map((c) => c.trace.refusal))
    .toEqual(['grease', 'grease']);
  // The control: in a later window the same site reads the same file (each window draws again).
  let read = null;
  for (let tries = 0; tries < 3 && !read?.ok; tries++) {
    await newWindow();
    read = await open(refused.hash);
  }
  expect(read.ok, 'the refused file is there for this site').toBeTruthy();
  const miss = await open('e'.repeat(64));
  expect(refused.answer, 'GREASE looks like a plain miss').toEqual(miss);
  await expect.poll(async () => (await panel.calls()).at(-1).trace.refusal).toBe('missing');
});

test('the panel, standalone for a tab: reasons in plain words, filters, export, live updates; screenshots in light and dark mode', async ({
  context,
  serviceWorker,
  openPage,
  server,
}, testInfo) => {
  test.setTimeout(90_000);
  const b = await openPage('b.test');
  const unlisted = await b.evaluate(() => storeBytes(patternBytes(3000, 7), { origins: '*' }));
  const frames = [
    { src: `${server.origin('b.test')}/page.html` },
    { src: `${server.origin('c.test')}/page.html`, allow: 'cross-origin-storage' },
  ];
  const a = await openPage('a.test', pagePath({ frames }));
  const [framedB, framedC] = ['b.test', 'c.test'].map((host) => a.frames().find((f) => f.url().startsWith(server.origin(host))));
  await attempt(a, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), 'e'.repeat(64));
  await attempt(a, (v) => readBack(v), unlisted);
  await attempt(framedB, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), 'e'.repeat(64));
  await attempt(framedC, () => storeBytes(patternBytes(2000, 8), { origins: '*' }));
  await attempt(a, (c) => storeBytes(patternBytes(500, 9), { origins: [c] }), server.origin('c.test'));
  await attempt(a, () => storeBytes(patternBytes(700, 10), {}, 'f'.repeat(64)));
  const tabId = await tabIdOf(serviceWorker, a);

  const panelUrl = (theme) => `chrome-extension://${extensionId(serviceWorker)}/extension/ui/panel.html?tab=${tabId}&theme=${theme}`;
  const panel = await context.newPage();
  panel.on('pageerror', (e) => console.log(`[panel] page error: ${e.message}`));
  await panel.setViewportSize({ width: 1200, height: 900 });
  await panel.goto(panelUrl('light'));
  const rows = panel.locator('tbody.call');
  // missing, unlisted (open), policy, c's write (open, write-begin, write, close), the ceiling write (4), the DataError write (4).
  await expect(rows).toHaveCount(15);
  const why = (cause) => panel.locator(`.why[data-cause="${cause}"]`);
  await expect(why('missing')).toContainText('No file with this hash is stored');
  await expect(why('not-on-public-list')).toContainText('not on the Public Hash List');
  await expect(panel.locator('tbody.refused').filter({ has: why('not-on-public-list') }).locator('.fix')).toContainText('settings page');
  await expect(why('permissions-policy')).toContainText(`the <iframe> in ${server.origin('a.test')} that loads ${server.origin('b.test')} lacks allow="cross-origin-storage"`);
  await expect(why('allow-origin-ceiling').first()).toContainText(`Not shared with ${server.origin('c.test')}`);
  await expect(why('integrity')).toContainText(createHash('sha256').update(patternBytes(700, 10)).digest('hex'));
  await expect(panel.locator('.note').filter({ hasText: 'Verified' })).toHaveCount(2);
  // Each "more" link names a section of the explanations page.
  const explanations = await context.newPage();
  await explanations.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/explanations.html`);
  for (const href of await panel.locator('.why a').evaluateAll((links) => links.map((l) => l.getAttribute('href')))) {
    await expect(explanations.locator(href.slice(href.indexOf('#'))), href).toHaveCount(1);
  }

  // Filters: refusals only, then one frame.
  await panel.locator('#refusals').check();
  await expect(rows).toHaveCount(4);
  await expect(panel.locator('tbody.call:not(.refused)')).toHaveCount(0);
  await panel.locator('#refusals').uncheck();
  const frameOption = await panel.locator('#frame option').filter({ hasText: server.origin('c.test') }).getAttribute('value');
  await panel.locator('#frame').selectOption(frameOption);
  await expect(rows).toHaveCount(4);
  await expect(panel.locator('td.frame').filter({ hasNotText: server.origin('c.test') })).toHaveCount(0);
  await panel.locator('#frame').selectOption('');

  // Export: the calls as JSON, as the worker recorded them.
  const [download] = await Promise.all([panel.waitForEvent('download'), panel.locator('#export').click()]);
  const exported = JSON.parse(await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString('utf8')));
  expect(exported.tabId).toBe(tabId);
  expect(exported.calls).toHaveLength(15);
  expect(exported.calls.find((c) => c.trace.policy)).toMatchObject({ origin: server.origin('b.test'), trace: { policy: { cause: { kind: 'iframe-allow' } } } });

  // Live: a call made now appears without reloading the panel.
  await attempt(a, (v) => navigator.crossOriginStorage.requestFileHandle(hashOf(v)), 'd'.repeat(64));
  await expect(rows).toHaveCount(16);
  await expect(rows.last().locator('td.method')).toHaveText('requestFileHandle');

  // Tall enough for every row: a full-page capture of a page with a scrollbar cuts its right edge.
  await panel.setViewportSize({ width: 1200, height: 1300 });
  const shoot = async (name) => {
    const path = join(REPO_ROOT, 'test-results', `${name}.png`);
    await panel.screenshot({ path });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  };
  const background = () => panel.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await shoot('devtools-panel-light');
  const light = await background();
  await panel.goto(panelUrl('dark'));
  await expect(rows).toHaveCount(16);
  await shoot('devtools-panel-dark');
  expect(await background(), 'the dark theme is dark').not.toBe(light);
  expect(light).toBe('rgb(255, 255, 255)');
});

test('the console hint: once per page load, the same words for every cause, none for successes', async ({ openPage, server, context }) => {
  const frames = [
    { src: `${server.origin('b.test')}/page.html` },
    { src: `${server.origin('c.test')}/page.html`, allow: 'cross-origin-storage' },
  ];
  const b = await openPage('b.test');
  const unlisted = await b.evaluate(() => storeBytes(patternBytes(3000, 11), { origins: '*' }));
  const page = await context.newPage();
  /** Every console message of the page and its frames. */
  const messages = [];
  page.on('console', (message) => messages.push(message.text()));
  await page.goto(server.origin('a.test') + pagePath({ frames }));
  const frame = (host) => page.frames().find((f) => f.url().startsWith(server.origin(host)));
  const hints = () => messages.filter((text) => text.includes('Cross-Origin Storage panel'));

  // The top document: a plain miss, then a file not on the list, then another miss.
  expect((await attempt(page, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), 'e'.repeat(64))).name).toBe('NotFoundError');
  expect((await attempt(page, (v) => readBack(v), unlisted)).name).toBe('NotFoundError');
  expect((await attempt(page, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), 'd'.repeat(64))).name).toBe('NotFoundError');
  // A frame the Permissions Policy refuses, twice.
  for (let i = 0; i < 2; i++) expect((await attempt(frame('b.test'), () => storeBytes(patternBytes(10, 12)))).name).toBe('NotAllowedError');
  // A frame whose calls all succeed.
  const stored = await frame('c.test').evaluate(() => storeBytes(patternBytes(10, 13)));
  expect((await attempt(frame('c.test'), (v) => readBack(v), stored)).ok).toBeTruthy();
  await expect.poll(() => hints().length).toBe(2);
  expect(hints()).toEqual([HINT, HINT]);

  // A new page load: a miss of another cause (not on the list) hints again, once, in the same words.
  await page.reload();
  expect((await attempt(page, (v) => readBack(v), unlisted)).name).toBe('NotFoundError');
  expect((await attempt(page, (v) => readBack(v), unlisted)).name).toBe('NotFoundError');
  await expect.poll(() => hints().length).toBe(3);
  await page.waitForTimeout(300);
  expect(hints()).toEqual([HINT, HINT, HINT]);
  // Nothing else the API printed names a cause.
  expect(messages.filter((text) => /budget|public hash list|permissions|scope|grease|allow=/i.test(text))).toEqual([]);
});

test("a tab's workers, fetch() and declarative lookups are in its record, named; a worker's refusal hints once, in its document's console", async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  test.setTimeout(90_000);
  const page = await openPage('a.test');
  const hints = [];
  page.on('console', (message) => message.text() === HINT && hints.push(message.text()));
  const tabId = await tabIdOf(serviceWorker, page);
  const panel = await watch(context, serviceWorker, tabId);
  const origin = server.origin('a.test');

  // A dedicated worker, a worker it starts, and a shared worker: each misses one hash.
  const misses = await page.evaluate(async () => {
    const lookup = (v) => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(v)));
    const worker = startWorker();
    return {
      dedicated: await worker.call(lookup, '1'.repeat(64)),
      nested: await worker.call((v) => startWorker('rpc.js').call((v) => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(v))), v), '2'.repeat(64)),
      shared: await startSharedWorker().call(lookup, '3'.repeat(64)),
    };
  });
  for (const miss of Object.values(misses)) expect(miss.name).toBe('NotFoundError');
  // The workers' refusals print the hint in the page's console, once between them.
  await expect.poll(() => hints.length).toBe(1);

  // fetch(): a miss goes to the network and is stored on the way.
  const bytes = patternBytes(2000, 41);
  const fetched = await page.evaluate(
    ([integrity]) => fetch('/bytes?size=2000&seed=41', { integrity, crossOriginStorage: '' }).then((r) => r.arrayBuffer()).then((b) => b.byteLength),
    [integrityOf(bytes)],
  );
  expect(fetched).toBe(2000);
  // A script inserted with crossoriginstorage: looked up before it loads.
  const seed = 42;
  await page.evaluate(
    ([src, integrity]) =>
      new Promise((resolve) => {
        const script = Object.assign(document.createElement('script'), { onload: resolve, onerror: resolve });
        script.setAttribute('src', src);
        script.setAttribute('integrity', integrity);
        script.setAttribute('crossoriginstorage', '');
        document.head.appendChild(script);
      }),
    [`/lib.js?seed=${seed}`, integrityOf(libScript(seed))],
  );
  // The page's own miss after the workers': no second hint in this page load.
  expect((await attempt(page, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), '4'.repeat(64))).name).toBe('NotFoundError');

  const fileHash = createHash('sha256').update(bytes).digest('hex');
  const calls = await panel.atLeast(8);
  const lookupOf = (hex) => calls.find((c) => c.trace.op === 'open' && c.trace.hash === hex);
  expect(lookupOf('1'.repeat(64))).toMatchObject({ frameId: 0, origin, realm: { kind: 'dedicated', url: `${origin}/workers/rpc.js` }, trace: { refusal: 'missing' } });
  expect(lookupOf('2'.repeat(64)).realm).toEqual({ kind: 'dedicated', url: `${origin}/workers/rpc.js` });
  expect(lookupOf('3'.repeat(64)).realm).toEqual({ kind: 'shared', url: `${origin}/workers/rpc-shared.js` });
  expect(lookupOf('4'.repeat(64)).realm).toEqual({ kind: 'window' });
  const fetchCalls = calls.filter((c) => c.trace.hash === fileHash);
  expect(fetchCalls.map((c) => [c.trace.op, c.trace.method])).toEqual(
    expect.arrayContaining([['open', 'fetch'], ['write-begin', 'createWritable'], ['close', 'close']]),
  );
  expect(fetchCalls.find((c) => c.trace.op === 'open' && !c.trace.create).trace.refusal).toBe('missing');
  expect(fetchCalls.find((c) => c.trace.op === 'close').trace).toMatchObject({ verified: true });
  await expect
    .poll(async () => (await panel.calls()).find((c) => c.trace.hash === createHash('sha256').update(libScript(seed)).digest('hex'))?.trace.method)
    .toBe('declarative');
  await page.waitForTimeout(300);
  expect(hints).toEqual([HINT]);

  // The panel names the worker beside its frame.
  const view = await context.newPage();
  await view.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/panel.html?tab=${tabId}`);
  await expect(view.locator('td.frame .worker').first()).toContainText('dedicated worker rpc.js');
  await expect(view.locator('td.frame .worker', { hasText: 'shared worker rpc-shared.js' })).toHaveCount(1);
});

test('the record per tab: another tab\'s calls never appear; a new top-level document starts it afresh, a same-document navigation does not; a closed tab\'s goes', async ({
  context,
  serviceWorker,
  openPage,
  server,
}) => {
  const miss = (page, v) => attempt(page, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), v);
  const x = await openPage('a.test');
  const y = await openPage('b.test');
  const [xId, yId] = [await tabIdOf(serviceWorker, x), await tabIdOf(serviceWorker, y)];
  const watchX = await watch(context, serviceWorker, xId);
  const watchY = await watch(context, serviceWorker, yId);
  await miss(x, '1'.repeat(64));
  await miss(y, '2'.repeat(64));
  await miss(x, '3'.repeat(64));
  const hashes = async (watcher) => (await watcher.calls()).map((c) => c.trace.hash[0]);
  await expect.poll(() => hashes(watchX)).toEqual(['1', '3']);
  await expect.poll(() => hashes(watchY)).toEqual(['2']);
  expect(new Set((await watchX.calls()).map((c) => c.origin))).toEqual(new Set([server.origin('a.test')]));

  // Same document: a fragment and history.pushState keep the record.
  await x.evaluate(() => {
    location.hash = '#section';
    history.pushState({}, '', '/page.html?state=1');
  });
  await miss(x, '4'.repeat(64));
  await expect.poll(() => hashes(watchX)).toEqual(['1', '3', '4']);

  // A reload is a new document: the record starts afresh, for a watcher connected before and one connecting now.
  await x.reload();
  await expect.poll(() => hashes(watchX)).toEqual([]);
  await miss(x, '5'.repeat(64));
  await expect.poll(() => hashes(watchX)).toEqual(['5']);
  expect(await hashes(await watch(context, serviceWorker, xId))).toEqual(['5']);
  // Another site in the same tab: none of the previous site's calls.
  await x.goto(server.origin('c.test') + '/page.html');
  await miss(x, '6'.repeat(64));
  await expect.poll(() => hashes(watchX)).toEqual(['6']);
  expect((await watchX.calls())[0].origin).toBe(server.origin('c.test'));
  await expect.poll(() => hashes(watchY)).toEqual(['2']);

  // A closed tab's record goes.
  await x.close();
  await expect.poll(() => hashes(watchX)).toEqual([]);
  expect(await hashes(await watch(context, serviceWorker, xId))).toEqual([]);
});

test("an incognito tab's calls are in the incognito worker's record only: the regular profile's pages never see them", async ({ server, userDataDir }) => {
  test.setTimeout(120_000);
  const context = await launchBrowser(userDataDir, server, { args: [DEBUG_PORT_ARG] });
  const devtools = await browserDevTools(userDataDir);
  try {
    const extension = extensionId(context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker')));
    expect(await allowInIncognito(context, extension), 'the extension can be allowed in incognito').toBe(true);
    const regular = await context.newPage();
    await regular.goto(server.origin('a.test') + '/page.html');

    // An incognito window (split mode: its own worker), driven over DevTools.
    const url = `${server.origin('a.test')}/page.html?incognito`;
    await (await liveWorker(context)).evaluate((url) => chrome.windows.create({ incognito: true, url }).then(() => {}), url);
    const targetOf = async (predicate) => {
      await expect.poll(async () => (await devtools.targets()).some(predicate), { timeout: 15_000 }).toBe(true);
      return (await devtools.targets()).find(predicate);
    };
    const tabTarget = await targetOf((t) => t.type === 'page' && t.url === url);
    const tab = await devtools.attach(tabTarget.targetId);
    const loaded = () => tab.evaluate(() => document.readyState === 'complete' && 'crossOriginStorage' in navigator);
    await expect.poll(loaded).toBe(true);
    const miss = (hex) => tab.evaluate((hex) => navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: hex }).then(() => 'found', (e) => e.name), hex);
    // The session's first page loads before the incognito worker runs, which
    // then refuses it (it never saw its headers): its first request starts the
    // worker, and the reloaded page is seen.
    await miss('0'.repeat(64));
    await tab.evaluate(() => void (window.beforeReload = true));
    await tab.send('Page.reload');
    await expect.poll(() => tab.evaluate(() => !window.beforeReload)).toBe(true);
    await expect.poll(loaded).toBe(true);
    expect(await miss('8'.repeat(64))).toBe('NotFoundError');

    // The incognito worker's own extension page reads the tab's record: the call is there.
    const incognitoWorker = await devtools.attach(
      (await targetOf((t) => t.type === 'service_worker' && t.url.includes(extension) && t.browserContextId === tabTarget.browserContextId)).targetId,
    );
    const tabId = await incognitoWorker.evaluate((url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url)?.id), url);
    expect(tabId).toEqual(expect.any(Number));
    const pageUrl = `chrome-extension://${extension}/extension/ui/explanations.html?incognito`;
    await incognitoWorker.evaluate((url) => chrome.tabs.create({ url }).then(() => {}), pageUrl);
    const incognitoPage = await devtools.attach((await targetOf((t) => t.type === 'page' && t.url === pageUrl)).targetId);
    await expect.poll(() => incognitoPage.evaluate(() => document.readyState)).toBe('complete');
    /** The hashes (first digit) of `tabId`'s record, as an extension page in `page` is sent it. */
    const recordIn = (page, tabId) =>
      page.evaluate(
        ([name, tabId]) =>
          new Promise((resolve) => {
            const port = chrome.runtime.connect({ name });
            port.onMessage.addListener((message) => resolve((message.calls ?? []).map((c) => c.trace.hash?.[0])));
            port.postMessage({ watch: tabId });
          }),
        [DEVTOOLS_PORT_NAME, tabId],
      );
    await expect.poll(() => recordIn(incognitoPage, tabId)).toContain('8');

    // The regular profile's extension page, watching the same tab id: nothing. The regular tab
    // calls only now: the record lives in the worker's memory, and an idle worker (30 s) forgets it.
    await attempt(regular, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), '7'.repeat(64));
    const regularPage = await context.newPage();
    await regularPage.goto(`chrome-extension://${extension}/extension/ui/explanations.html`);
    expect(await recordIn(regularPage, tabId), "the incognito tab's record, read from the regular profile").toEqual([]);
    // And the regular tab's record holds only its own call.
    const regularTabId = await (await liveWorker(context)).evaluate(
      (url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url)?.id),
      regular.url(),
    );
    // Recorded once the page has its answer: polled.
    await expect.poll(() => recordIn(regularPage, regularTabId)).toEqual(['7']);
  } finally {
    await devtools.close();
    await context.close();
  }
});

test('no page, content script or other extension reads the record; the extension\'s own page does', async ({ server, userDataDir }) => {
  // A second extension, installed beside this one, that tries to reach the record.
  const attackerDir = await mkdtemp(join(tmpdir(), 'cos-attacker-'));
  await writeFile(
    join(attackerDir, 'manifest.json'),
    JSON.stringify({ manifest_version: 3, name: 'Attacker', version: '1.0', background: { service_worker: 'attacker.js' } }),
  );
  await writeFile(join(attackerDir, 'attacker.js'), '// Driven by the test through its service worker.\n');
  const context = await launchBrowser(userDataDir, server, { extensionDir: `${EXTENSION_DIR},${attackerDir}` });
  try {
    const workerOf = async (suffix) => {
      for (;;) {
        const found = context.serviceWorkers().find((w) => w.url().endsWith(suffix));
        if (found) return found;
        await context.waitForEvent('serviceworker', { timeout: 10_000 });
      }
    };
    const serviceWorker = await workerOf('/extension/sw.js');
    const attacker = await workerOf('/attacker.js');
    const cosId = extensionId(serviceWorker);

    const page = await context.newPage();
    await page.goto(server.origin('a.test') + '/page.html');
    const secret = 'c'.repeat(64);
    await attempt(page, (v) => navigator.crossOriginStorage.getFileHandle(hashOf(v)), secret);
    const tabId = await tabIdOf(serviceWorker, page);
    // The control: the extension's own page reads the record.
    const own = await watch(context, serviceWorker, tabId);
    expect((await own.atLeast(1))[0].trace).toMatchObject({ hash: secret, refusal: 'missing' });
    const leaks = (value) => JSON.stringify(value ?? null).includes(secret) || /refusal|trace|topDocumentId/.test(JSON.stringify(value ?? null));

    // 1. The page: through the bridge's channel, and chrome.runtime (web pages have none for this extension).
    const fromPage = await page.evaluate(
      async ({ tabId, name, cosId }) => {
        const send = rawChannel();
        const replies = await Promise.all([
          send({ watch: tabId }),
          send({ op: 'watch', tab: tabId }),
          send({ op: 'calls', tab: tabId }),
          send({ request: { watch: tabId } }),
          send({ op: 'summary' }),
        ]);
        let runtime;
        try {
          const port = chrome.runtime.connect(cosId, { name });
          runtime = await new Promise((resolve) => {
            port.onMessage.addListener((m) => resolve({ message: m }));
            port.onDisconnect.addListener(() => resolve('disconnected'));
            port.postMessage({ watch: tabId });
          });
        } catch (e) {
          runtime = `threw ${e.name}`;
        }
        return { replies, runtime };
      },
      { tabId, name: DEVTOOLS_PORT_NAME, cosId },
    );
    for (const reply of fromPage.replies) expect(reply).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    expect(fromPage.runtime).toBe('threw TypeError');
    expect(leaks(fromPage)).toBe(false);

    // 2. This extension's content script, as a compromised renderer could drive it (its isolated world, through CDP).
    const cdp = await context.newCDPSession(page);
    const contexts = [];
    cdp.on('Runtime.executionContextCreated', ({ context: c }) => contexts.push(c));
    await cdp.send('Runtime.enable');
    const { frameTree } = await cdp.send('Page.getFrameTree');
    const isolated = contexts.find((c) => c.auxData?.type === 'isolated' && c.auxData.frameId === frameTree.frame.id && c.name === 'Cross-Origin Storage');
    expect(isolated, 'the content script\'s world').toBeTruthy();
    const expression = `(async () => {
      const port = chrome.runtime.connect({ name: ${JSON.stringify(DEVTOOLS_PORT_NAME)} });
      const messages = [];
      const viaPort = await new Promise((resolve) => {
        port.onMessage.addListener((m) => messages.push(m));
        port.onDisconnect.addListener(() => resolve('disconnected'));
        port.postMessage({ watch: ${tabId} });
        setTimeout(() => resolve('still open'), 2000);
      });
      const viaMessage = await chrome.runtime.sendMessage({ watch: ${tabId} }).catch((e) => 'rejected: ' + e.message);
      return JSON.stringify({ viaPort, messages, viaMessage: viaMessage ?? null });
    })()`;
    const fromContentScript = JSON.parse((await cdp.send('Runtime.evaluate', { expression, contextId: isolated.id, awaitPromise: true, returnByValue: true })).result.value);
    expect(fromContentScript.viaPort).toBe('disconnected');
    expect(fromContentScript.messages).toEqual([]);
    expect(leaks(fromContentScript)).toBe(false);

    // 3. Another extension.
    const fromExtension = await attacker.evaluate(
      async ({ cosId, name, tabId }) => {
        const messages = [];
        const viaPort = await new Promise((resolve) => {
          const port = chrome.runtime.connect(cosId, { name });
          port.onMessage.addListener((m) => messages.push(m));
          port.onDisconnect.addListener(() => resolve('disconnected'));
          port.postMessage({ watch: tabId });
          setTimeout(() => resolve('still open'), 2000);
        });
        const viaMessage = await chrome.runtime.sendMessage(cosId, { watch: tabId }).then(
          (reply) => ({ reply }),
          (e) => `rejected: ${e.message}`,
        );
        return { viaPort, messages, viaMessage };
      },
      { cosId, name: DEVTOOLS_PORT_NAME, tabId },
    );
    expect(fromExtension.viaPort).toBe('disconnected');
    expect(fromExtension.messages).toEqual([]);
    expect(fromExtension.viaMessage).toMatch(/^rejected: /);
    expect(leaks(fromExtension)).toBe(false);
  } finally {
    await context.close();
    await rm(attackerDir, { recursive: true, force: true });
  }
});

test('the popup links each file other sites cannot read to the explanation the panel uses, and shows its grants and list membership', async ({
  context,
  serviceWorker,
  openPage,
}, testInfo) => {
  const a = await openPage('a.test');
  const files = await a.evaluate(async () => ({
    sameSite: await storeBytes(patternBytes(2000, 20)),
    globalUnlisted: await storeBytes(patternBytes(2000, 21), { origins: '*' }),
    globalListed: await storeBytes(patternBytes(2000, 22), { origins: '*' }),
  }));
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [files.globalListed] });
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/popup.html`);
  const item = (hash) => popup.locator(`#files li[data-hash="${hash}"]`);
  await expect(item(files.sameSite).locator('.visibility')).toHaveText('sites of the storing origins only');
  await expect(item(files.sameSite).locator('.why a')).toHaveAttribute('href', 'explanations.html#out-of-scope');
  await expect(item(files.globalUnlisted).locator('.phl')).toHaveAttribute('data-listed', 'false');
  await expect(item(files.globalUnlisted).locator('.why a')).toHaveAttribute('href', 'explanations.html#not-on-public-list');
  await expect(item(files.globalListed).locator('.phl')).toHaveAttribute('data-listed', 'true');
  await expect(item(files.globalListed).locator('.why')).toHaveCount(0);
  // The links lead to the explanations page's sections (rendered from the panel's explanations).
  const [explanations] = await Promise.all([context.waitForEvent('page'), item(files.globalUnlisted).locator('.why a').click()]);
  await expect(explanations.locator('section:target h2')).toHaveText('Not on the Public Hash List');
  await expect(explanations.locator('section:target')).toContainText('settings page');
  await expect(popup.locator('#explanations')).toHaveAttribute('href', 'explanations.html');
  await popup.setViewportSize({ width: 480, height: 700 });
  const path = join(REPO_ROOT, 'test-results', 'devtools-popup-links.png');
  await popup.screenshot({ path });
  await testInfo.attach('devtools-popup-links', { path, contentType: 'image/png' });
});
