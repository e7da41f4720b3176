// Issue 16, the developer tools: the record of a tab's calls (read through
// the DevTools panel's port, from an extension page: the admin tier), driven
// by pages that trigger every refusal cause; the panel page rendered
// standalone for a tab, in light and dark mode; the console hint; and the
// attacker's side: no page, content script or other extension reads the
// record, and no tab's record holds another tab's calls.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, expect, launchBrowser, EXTENSION_DIR, REPO_ROOT } from './fixtures.mjs';
import { createHash } from 'node:crypto';
import { pagePath, patternBytes } from './server.mjs';
import { admin, extensionId } from './sw-tools.mjs';

const DEVTOOLS_PORT_NAME = 'cross-origin-storage:devtools';
const HINT = 'crossOriginStorage: a file was not available; open the Cross-Origin Storage panel in DevTools to see why';
const PROBES_PER_WINDOW = 16;

/** The id of the tab showing `page` (asked of the extension, which sees its tabs' URLs). */
const tabIdOf = (serviceWorker, page) =>
  serviceWorker.evaluate((url) => chrome.tabs.query({}).then((tabs) => tabs.find((t) => t.url === url)?.id), page.url());

/**
 * An extension page (the admin tier) watching `tabId`'s record over the
 * panel's port, as panel.js does: `calls()` is what it was sent, resets applied.
 */
async function watch(context, serviceWorker, tabId) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/explanations.html`);
  await page.evaluate(
    ({ name, tabId }) => {
      window.record = [];
      const port = chrome.runtime.connect({ name });
      port.onMessage.addListener((message) => {
        if (message.call) return window.record.push(message.call);
        if (message.reset) window.record = [];
        for (const call of message.calls) if (!window.record.some((c) => c.seq === call.seq)) window.record.push(call);
      });
      port.postMessage({ watch: tabId });
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
});
