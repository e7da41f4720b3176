// The per-site switch (issue 17): the user turns the API off for a site from
// the popup or the settings page, or enterprise policy does; from its next
// load a page of that site has no navigator.crossOriginStorage and none of
// the extension's code runs in its frames, exactly as without the extension.
// Pages cannot read or change the switch. It persists, and the content
// scripts are there from document_start after a browser restart.
import { rm } from 'node:fs/promises';
import { test, expect, launchBrowser } from './fixtures.mjs';
import { copyExtension, launchUnderPolicy, unpackedId, writeExtensionPolicy } from './extension-copies.mjs';
import { pagePath } from './server.mjs';
import { admin, extensionId, liveWorker, stopWorkers } from './sw-tools.mjs';

const UNKNOWN = { algorithm: 'SHA-256', value: 'f'.repeat(64) };

/**
 * What a frame's own scripts can see of the extension: the API (the
 * navigator property and the global interface) and whether anything answers
 * the relay's connect message (an ordinary request, through the page's side
 * of the protocol, as any script could send it).
 */
const surface = (frame) =>
  frame.evaluate(async (hash) => {
    const reply = await rawChannel()({ op: 'open', hash }, undefined, 1500);
    return {
      api: 'crossOriginStorage' in navigator || 'crossOriginStorage' in Navigator.prototype,
      interface: 'CrossOriginStorageManager' in globalThis,
      relay: !reply.timeout,
    };
  }, UNKNOWN);
const ON = { api: true, interface: true, relay: true };
const OFF = { api: false, interface: false, relay: false };

/** The frame of `page` (not its main frame) showing `origin`. */
const frameOn = (page, origin) => page.frames().find((f) => f !== page.mainFrame() && f.url().startsWith(`${origin}/`));

const extensionPage = async (context, serviceWorker, path) => {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[${path}] page error: ${e.message}`));
  await page.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/${path}`);
  return page;
};

/** The popup, opened in a tab, with `origin` playing the active tab (its documented `?tab=` override). */
async function openPopup(context, serviceWorker, origin) {
  const popup = await extensionPage(context, serviceWorker, `popup.html?tab=${encodeURIComponent(origin)}`);
  await expect(popup.locator('#site-switch')).toBeVisible();
  return popup;
}

const disabledSites = async (context, serviceWorker) => (await admin(context, serviceWorker, { op: 'summary' })).disabledSites;

test('the popup turns the API off for the whole site: no API and no relay in its frames, others unaffected, and on again', async ({
  context,
  server,
  serviceWorker,
  openPage,
}) => {
  const frames = ['a.test', 'c.test'].map((host) => ({ src: `${server.origin(host)}/page.html`, allow: 'cross-origin-storage' }));
  const b = await openPage('b.test', pagePath({ frames }));
  const sub = await openPage('sub.a.test');
  const a = await openPage('a.test');
  for (const frame of [a.mainFrame(), sub.mainFrame(), b.mainFrame(), frameOn(b, server.origin('a.test'))]) {
    expect(await surface(frame), frame.url()).toEqual(ON);
  }

  const popup = await openPopup(context, serviceWorker, server.origin('sub.a.test'));
  await expect(popup.locator('#switch-state')).toHaveText('On for a.test: its pages can use cross-origin storage.');
  await popup.locator('#switch-toggle').click();
  await expect(popup.locator('#switch-state')).toContainText('Off for a.test');
  await expect(popup.locator('#switch-toggle')).toHaveText('Turn on for this site');
  expect(await disabledSites(context, serviceWorker)).toEqual({ user: ['http://a.test'], policy: [] });

  // A page loaded before keeps its scripts until it reloads: the worker refuses it.
  expect(await a.evaluate((h) => outcome(() => navigator.crossOriginStorage.getFileHandle(h)), UNKNOWN)).toEqual({
    name: 'NotAllowedError',
    message: 'cross-origin storage is turned off for this site; it is gone once the page reloads',
  });
  expect(await b.evaluate((h) => outcome(() => navigator.crossOriginStorage.getFileHandle(h)), UNKNOWN)).toMatchObject({ name: 'NotFoundError' });

  for (const page of [a, sub, b]) await page.reload();
  // The site and its subdomains, top-level or framed by another site: nothing of the extension.
  for (const frame of [a.mainFrame(), sub.mainFrame(), frameOn(b, server.origin('a.test'))]) {
    expect(await surface(frame), frame.url()).toEqual(OFF);
  }
  // Other sites, their frames in its pages included, keep it.
  for (const frame of [b.mainFrame(), frameOn(b, server.origin('c.test'))]) {
    expect(await surface(frame), frame.url()).toEqual(ON);
  }
  const stored = await b.evaluate(() => storeBytes(patternBytes(1000, 1)));
  expect(await b.evaluate((v) => readBack(v), stored)).toMatchObject({ size: 1000, hash: stored });

  await popup.reload();
  await popup.locator('#switch-toggle').click();
  await expect(popup.locator('#switch-state')).toContainText('On for a.test');
  for (const page of [a, b]) await page.reload();
  for (const frame of [a.mainFrame(), frameOn(b, server.origin('a.test'))]) {
    expect(await surface(frame), frame.url()).toEqual(ON);
  }
});

test('the settings page lists the sites that are off, turns one off from what the user types and on again', async ({
  context,
  server,
  serviceWorker,
  openPage,
}) => {
  const options = await extensionPage(context, serviceWorker, 'options.html');
  await expect(options.locator('#sites-empty')).toBeVisible();
  // A URL of the site's subdomain names the whole site.
  await options.locator('#sites-add').fill(`${server.origin('sub.a.test')}/some/page?q=1`);
  await options.getByRole('button', { name: 'Turn off', exact: true }).click();
  const entry = options.locator('#sites-list li[data-site="http://a.test"]');
  await expect(entry).toBeVisible();
  await expect(entry).toHaveAttribute('data-by', 'user');
  await expect(options.locator('#sites-empty')).toBeHidden();
  const a = await openPage('a.test');
  expect(await surface(a.mainFrame())).toEqual(OFF);

  // What is not a web site is refused with a reason, and changes nothing.
  await options.locator('#sites-add').fill('ftp://files.test');
  await options.getByRole('button', { name: 'Turn off', exact: true }).click();
  await expect(options.locator('#error')).toContainText('not a web site');
  await expect(options.locator('#sites-list li')).toHaveCount(1);

  await entry.getByRole('button', { name: 'Turn on' }).click();
  await expect(options.locator('#sites-list li')).toHaveCount(0);
  await a.reload();
  expect(await surface(a.mainFrame())).toEqual(ON);
});

test('no page can read or change the switch: the admin requests are refused on the page tier', async ({ context, server, serviceWorker, openPage }) => {
  const b = await openPage('b.test');
  const before = await b.evaluate((h) => rawChannel()({ op: 'open', hash: h }), UNKNOWN);
  const a = await openPage('a.test');
  await admin(context, serviceWorker, { op: 'disable-site', origin: server.origin('a.test') });
  // a.test's stale page, and b.test, try every admin request of the switch through the relay.
  for (const page of [a, b]) {
    const replies = await page.evaluate(
      (origin) =>
        Promise.all(
          [
            { op: 'enable-site', site: 'http://a.test' },
            { op: 'disable-site', origin },
            { op: 'summary', origin },
            { op: 'summary' },
          ].map((request) => rawChannel()(request)),
        ),
      page.url(),
    );
    for (const reply of replies) expect(reply.ok, JSON.stringify(reply)).toBe(false);
  }
  expect(await disabledSites(context, serviceWorker)).toEqual({ user: ['http://a.test'], policy: [] });
  // What b.test sees does not change with another site's switch.
  expect(await b.evaluate((h) => rawChannel()({ op: 'open', hash: h }), UNKNOWN)).toEqual(before);
  // Content scripts cannot read the extension's storage, where the list is kept.
  await b.reload();
  expect(await surface(b.mainFrame())).toEqual(ON);
});

test('enterprise policy turns sites off; the user sees them as the policy\'s and cannot turn them on', async ({ server, userDataDir }) => {
  test.skip(process.getuid?.() !== 0, 'writing the policy directory needs root');
  // Policy tests take turns (extension-copies.mjs): this one may wait for another's.
  test.setTimeout(180_000);
  const extensionDir = await copyExtension();
  // A URL with a path and a port names its whole site; what is no site is ignored.
  const removePolicy = await writeExtensionPolicy(unpackedId(extensionDir), {
    disabledSites: [`${server.origin('sub.c.test')}/app/`, 'not a site at all ://'],
  });
  let context;
  try {
    context = await launchUnderPolicy(() => launchBrowser(userDataDir, server, { extensionDir, secure: [server.origin('sub.c.test')] }));
    const serviceWorker = await liveWorker(context);
    // The browser has the policy: the worker hears of it (chrome.storage.onChanged) and applies it.
    await expect.poll(async () => (await disabledSites(context, serviceWorker)).policy, { timeout: 15_000 }).toEqual(['http://c.test']);
    const c = await context.newPage();
    await c.goto(`${server.origin('c.test')}/page.html`);
    expect(await surface(c.mainFrame())).toEqual(OFF);

    const options = await extensionPage(context, serviceWorker, 'options.html');
    const entry = options.locator('#sites-list li[data-site="http://c.test"]');
    await expect(entry).toHaveAttribute('data-by', 'policy');
    await expect(entry).toContainText("set by your administrator's policy");
    await expect(entry.getByRole('button')).toHaveCount(0);
    const popup = await openPopup(context, serviceWorker, server.origin('c.test'));
    await expect(popup.locator('#switch-state')).toHaveText("Off for c.test, by your administrator's policy.");
    await expect(popup.locator('#switch-toggle')).toBeHidden();
    const reply = await options.evaluate(() => chrome.runtime.sendMessage({ request: { op: 'enable-site', site: 'http://c.test' } }));
    expect(reply).toMatchObject({ ok: false, error: { message: expect.stringContaining('policy') } });
    await c.reload();
    expect(await surface(c.mainFrame())).toEqual(OFF);
  } finally {
    await context?.close();
    await removePolicy();
    await rm(extensionDir, { recursive: true, force: true });
  }
});

test('after a browser restart the switch holds and the API is there from document_start; a lost registration comes back at the next worker start', async ({
  server,
  userDataDir,
}) => {
  let context = await launchBrowser(userDataDir, server);
  await admin(context, await liveWorker(context), { op: 'disable-site', origin: server.origin('a.test') });
  await context.close();

  context = await launchBrowser(userDataDir, server);
  try {
    const early = async (host) => {
      const page = await context.newPage();
      await page.goto(`${server.origin(host)}/early.html`);
      return page;
    };
    const c = await early('c.test');
    expect(await c.evaluate(() => window.seenAtStart), 'the first script of the page sees the API').toBe(true);
    const a = await early('a.test');
    expect(await a.evaluate(() => window.seenAtStart)).toBe(false);
    expect(await surface(a.mainFrame())).toEqual(OFF);

    // The registrations go (as an extension update clears them); the worker's next start restores them.
    const sw = await liveWorker(context);
    await sw.evaluate(() => chrome.scripting.unregisterContentScripts());
    await c.reload();
    expect(await surface(c.mainFrame())).toEqual(OFF);
    await stopWorkers(c);
    // A navigation wakes the worker (it records each document's headers).
    await c.reload();
    await expect.poll(() => liveWorker(context).then((w) => w.evaluate(() => chrome.scripting.getRegisteredContentScripts().then((s) => s.length)))).toBe(2);
    await c.reload();
    expect(await c.evaluate(() => window.seenAtStart)).toBe(true);
    await a.reload();
    expect(await surface(a.mainFrame())).toEqual(OFF);
  } finally {
    await context.close();
  }
});
