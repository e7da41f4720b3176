// The popup and the settings page, opened as extension pages after real pages
// on several origins stored and read files: what they show must match what
// happened, and what the user does there must really change the store.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test, expect, REPO_ROOT } from './fixtures.mjs';
import { admin, MiB, sleep } from './sw-tools.mjs';

/** `size` deterministic bytes (seed `seed`) starting with `prefix`, so the popup shows a kind. */
const PREFIX = { wasm: [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0], onnx: [0x08, 0x08, 0x12, 0x07], json: [0x7b, 0x22], binary: [0xff, 0xfe] };

/** Stores a file of `kind` from `page`; returns its hex hash. */
const store = (page, size, seed, kind = 'binary', options = {}) =>
  page.evaluate(
    ({ size, seed, prefix, options }) => {
      const bytes = patternBytes(size, seed);
      bytes.set(prefix);
      return storeBytes(bytes, options);
    },
    { size, seed, prefix: PREFIX[kind], options },
  );

/** `{ok: {size, hash}}` or `{name}` of the error. */
const read = (page, hex) => page.evaluate((v) => outcome(() => readBack(v)), hex);
const readsOk = async (page, hex) => expect((await read(page, hex)).ok?.hash).toBe(hex);
const readsNotFound = async (page, hex) => expect(await read(page, hex)).toMatchObject({ name: 'NotFoundError' });

const extensionUrl = (serviceWorker, path) => `chrome-extension://${new URL(serviceWorker.url()).host}/extension/ui/${path}`;

/** Opens the popup in a tab; `site` plays the active tab (the documented `?tab=` override). */
async function openPopup(context, serviceWorker, site) {
  const popup = await context.newPage();
  popup.on('pageerror', (e) => console.log(`[popup] page error: ${e.message}`));
  await popup.goto(extensionUrl(serviceWorker, `popup.html${site ? `?tab=${encodeURIComponent(site)}` : ''}`));
  await expect(popup.locator('#total-files')).not.toBeEmpty();
  return popup;
}

async function openSettings(context, serviceWorker) {
  const options = await context.newPage();
  options.on('pageerror', (e) => console.log(`[options] page error: ${e.message}`));
  await options.goto(extensionUrl(serviceWorker, 'options.html'));
  await expect(options.locator('#usage')).not.toBeEmpty();
  return options;
}

/** The totals as the popup shows them, bytes read from `<data value>`. */
const totals = (popup) =>
  popup.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent;
    const bytes = (id) => Number(document.querySelector(`#${id} data`).value);
    return {
      files: Number(text('total-files')),
      stored: bytes('total-stored'),
      saved: bytes('total-saved'),
      hits: Number(text('total-hits')),
      misses: Number(text('total-misses')),
    };
  });

const row = (popup, hex) => popup.locator(`#files li[data-hash="${hex}"]`);
const listedHashes = (popup) => popup.locator('#files li').evaluateAll((items) => items.map((li) => li.dataset.hash));

/** Clicks `button`, checks the dialog's text, then answers it. */
async function answerDialog(popup, button, expectedText, answer) {
  await button.click();
  const dialog = popup.locator('#confirm');
  await expect(dialog).toBeVisible();
  await expect(dialog.locator('#confirm-text')).toContainText(expectedText);
  await dialog.getByRole('button', { name: answer }).click();
  await expect(dialog).toBeHidden();
}

/** Puts `hashes` on the user's Public Hash List entries, so their global grant reaches other sites. */
const makePublic = (context, serviceWorker, ...hashes) => admin(context, serviceWorker, { op: 'add-public-hashes', hashes });

/**
 * a.test stores a global wasm file (700,000 B, made public) and a same-site
 * onnx file (3000 B); b.test reads the wasm twice, misses the onnx, and stores
 * a global json file (600,000 B, made public), which a.test then reads;
 * sub.a.test reads the onnx. Files read through the global grant are over
 * 500 KiB, which GREASE never refuses. (No file is listed for named origins: a
 * list write needs the writing document's Cross-Origin-Storage-Allow-Origin
 * header, which these pages do not send.)
 */
async function scenario({ openPage, context, serviceWorker }) {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  const sub = await openPage('sub.a.test');
  const wasm = await store(a, 700_000, 1, 'wasm', { origins: '*' });
  await makePublic(context, serviceWorker, wasm);
  const onnx = await store(a, 3000, 2, 'onnx');
  await readsOk(b, wasm);
  await readsOk(b, wasm);
  await readsNotFound(b, onnx);
  const json = await store(b, 600_000, 3, 'json', { origins: '*' });
  await makePublic(context, serviceWorker, json);
  await readsOk(a, json);
  await readsOk(sub, onnx);
  return { a, b, sub, wasm, onnx, json };
}

test('the popup shows what pages stored and exactly what it saved', async ({ context, serviceWorker, openPage, server }) => {
  const { a: pageA, wasm, onnx, json } = await scenario({ openPage, context, serviceWorker });
  // Global too, but not on the Public Hash List: only its storer's site reads it.
  const unlisted = await store(pageA, 1000, 4, 'binary', { origins: '*' });
  const popup = await openPopup(context, serviceWorker, server.origin('b.test'));

  // Saved: b.test read 700,000 B twice, a.test 600,000 B, sub.a.test 3000 B; the one miss is b.test's hidden onnx.
  expect(await totals(popup)).toEqual({ files: 4, stored: 1_304_000, saved: 2_003_000, hits: 4, misses: 1 });
  await expect(popup.locator('#empty')).toBeHidden();

  const a = server.origin('a.test');
  const b = server.origin('b.test');
  const sub = server.origin('sub.a.test');
  await expect(row(popup, wasm).locator('.kind')).toHaveText('wasm');
  await expect(row(popup, wasm).locator('.visibility')).toContainText('global');
  await expect(row(popup, wasm).locator('.storers')).toHaveText(a);
  await expect(row(popup, wasm).locator('.users')).toContainText(b);
  await expect(row(popup, onnx).locator('.visibility')).toContainText('storing origins only');
  await expect(row(popup, onnx).locator('.users')).toContainText(sub);
  await expect(row(popup, json).locator('.visibility')).toContainText('global');
  await expect(row(popup, json).locator('.storers')).toHaveText(b);
  await expect(row(popup, wasm).locator('.hash')).toHaveAttribute('title', wasm);
  // Whether the Public Hash List lets each file's grants reach other sites.
  await expect(row(popup, wasm).locator('.phl')).toHaveText('on the list: every site can read it');
  await expect(row(popup, unlisted).locator('.visibility')).toContainText('global');
  await expect(row(popup, unlisted).locator('.phl')).toHaveText('not on the list: no other site can read it through the global grant');
  await expect(row(popup, onnx).locator('.phl')).toHaveText('not on the list');

  // The full hash is copied, not the short one.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await row(popup, json).getByRole('button', { name: 'copy' }).click();
  expect(await popup.evaluate(() => navigator.clipboard.readText())).toBe(json);

  expect(await listedHashes(popup), 'by size').toEqual([wasm, json, onnx, unlisted]);
  await popup.locator('#sort').selectOption('used');
  expect(await listedHashes(popup), 'by last use').toEqual([unlisted, onnx, json, wasm]);
  // b.test read the wasm and stored the json; the onnx never reached it.
  await popup.locator('#this-site').check();
  expect(await listedHashes(popup)).toEqual([json, wasm]);
  // Two bars per file shown, plus the legend's two swatches.
  await expect(popup.locator('#chart rect')).toHaveCount(2 * 2 + 2);
});

test('deleting a file frees it: pages then get NotFoundError', async ({ context, serviceWorker, openPage, server }) => {
  const { a, b, wasm, onnx } = await scenario({ openPage, context, serviceWorker });
  const popup = await openPopup(context, serviceWorker);
  const deleteWasm = row(popup, wasm).getByRole('button', { name: 'Delete' });

  await answerDialog(popup, deleteWasm, 'frees 684 KiB', 'Cancel');
  await readsOk(b, wasm);
  await expect(row(popup, wasm)).toHaveCount(1);

  await answerDialog(popup, deleteWasm, 'frees 684 KiB', 'Delete');
  await expect(row(popup, wasm)).toHaveCount(0);
  expect(await totals(popup)).toMatchObject({ files: 2, stored: 603_000 });
  await readsNotFound(b, wasm);
  await readsNotFound(a, wasm);
  await readsOk(a, onnx);
});

test('"delete this site" removes only files no other site used', async ({ context, serviceWorker, openPage, server }) => {
  const a = await openPage('a.test');
  const sub = await openPage('sub.a.test');
  const b = await openPage('b.test');
  const onlyA = await store(a, 1000, 10);
  const onlySub = await store(sub, 1048, 11); // same site as a.test
  await readsOk(a, onlySub);
  const sharedWithB = await store(sub, 600_000, 12, 'wasm', { origins: '*' });
  await makePublic(context, serviceWorker, sharedWithB);
  await readsOk(b, sharedWithB);
  const onlyB = await store(b, 500, 13);

  const popup = await openPopup(context, serviceWorker, server.origin('a.test'));
  const button = popup.locator('#delete-site');
  await expect(button).toHaveText('Delete 2 files used only by a.test');
  await answerDialog(popup, button, 'frees 2.0 KiB', 'Delete');

  await expect(popup.locator('#files li')).toHaveCount(2);
  await readsNotFound(a, onlyA);
  await readsNotFound(a, onlySub);
  await readsOk(b, sharedWithB);
  await readsOk(b, onlyB);
  await expect(button).toHaveText('No files used only by a.test');
  await expect(button).toBeDisabled();
});

test('clear everything, then the empty state links to the README', async ({ context, serviceWorker, openPage, server }) => {
  const { a, b, wasm, onnx, json } = await scenario({ openPage, context, serviceWorker });
  const popup = await openPopup(context, serviceWorker);
  await answerDialog(popup, popup.locator('#clear'), 'Delete all 3 files? This frees 1.2 MiB', 'Delete');

  await expect(popup.locator('#empty')).toBeVisible();
  await expect(popup.locator('#content')).toBeHidden();
  // What was saved stays saved; what is stored is gone.
  expect(await totals(popup)).toEqual({ files: 0, stored: 0, saved: 2_003_000, hits: 4, misses: 1 });
  for (const hex of [wasm, onnx]) await readsNotFound(a, hex);
  await readsNotFound(b, json);

  const readme = popup.getByRole('link', { name: /README/ });
  await expect(readme).toHaveAttribute('href', `chrome-extension://${new URL(serviceWorker.url()).host}/README.md`);
  const served = await popup.evaluate(async (href) => (await fetch(href)).text(), await readme.getAttribute('href'));
  expect(served).toContain('Cross-Origin Storage');
});

test('the budget takes effect at once: a file over it gets QuotaExceededError', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  await store(a, 5000, 20);
  const options = await openSettings(context, serviceWorker);
  await expect(options.locator('#usage')).toHaveText('4.9 KiB');
  await expect(options.locator('#budget-kind')).toHaveText('the default');
  await expect(options.locator('#budget-reset')).toBeDisabled();

  // 0.01 MiB = 10486 bytes. One origin may hold the budget rounded down to
  // a power of two, 8 KiB: beside its 5000 bytes, 8000 more do not fit, nor
  // 3500 (though the store as a whole would stay within 10486), but 3000 do.
  await options.locator('#budget-value').fill('0.01');
  await options.locator('#budget-unit').selectOption({ label: 'MiB' });
  await options.locator('#budget-form').getByRole('button', { name: 'Save' }).click();
  await expect(options.locator('#budget-current')).toHaveText('10.2 KiB');
  await expect(options.locator('#budget-kind')).toHaveText('your');
  expect(await options.evaluate(() => chrome.storage.local.get('settings'))).toEqual({ settings: { budgetBytes: 10486 } });
  const summary = await options.evaluate(() => chrome.runtime.sendMessage({ request: { op: 'summary' } }));
  expect(summary.value).toMatchObject({ budgetBytes: 10486, originLimitBytes: 8192 });
  expect(await a.evaluate(() => outcome(() => storeBytes(patternBytes(8000, 21))))).toMatchObject({ name: 'QuotaExceededError' });
  expect(await a.evaluate(() => outcome(() => storeBytes(patternBytes(3500, 23))))).toMatchObject({ name: 'QuotaExceededError' });
  // What fits is still stored.
  expect((await a.evaluate(() => outcome(() => storeBytes(patternBytes(3000, 22))))).ok).toMatch(/^[0-9a-f]{64}$/);

  await options.getByRole('button', { name: 'Reset to default' }).click();
  await expect(options.locator('#budget-kind')).toHaveText('the default');
  expect((await a.evaluate(() => outcome(() => storeBytes(patternBytes(8000, 21))))).ok).toMatch(/^[0-9a-f]{64}$/);

  // The popup reads the same state.
  const popup = await openPopup(context, serviceWorker);
  expect(await totals(popup)).toMatchObject({ files: 3, stored: 16000 });
});

test('the settings page shows the bundled Public Hash List in use', async ({ context, serviceWorker }) => {
  const options = await openSettings(context, serviceWorker);
  const list = await options.evaluate(async () => (await fetch(chrome.runtime.getURL('extension/pkg/public_hash_list.txt'))).text());
  const hashes = new Set(list.split('\n').filter((line) => /^[0-9a-f]{64}$/.test(line)));
  const version = list.match(/^\/\/ VERSION: (.*)$/m)[1];
  expect(hashes.size).toBeGreaterThan(0);
  await expect(options.locator('#phl-source')).toHaveText('the list bundled with the extension');
  await expect(options.locator('#phl-version')).toHaveText(version);
  await expect(options.locator('#phl-count')).toHaveText(`${hashes.size} hashes (core ${hashes.size}, Hugging Face 0, manual 0)`);
  await expect(options.locator('#phl-last-refresh')).toHaveText('never');
  await expect(options.locator('#phl-last-error')).toHaveText('none');
  await expect(options.locator('#phl-policy')).toBeHidden();
  await expect(options.getByRole('button', { name: 'Refresh now' })).toBeDisabled();
  await options.getByText('Show the bundled list').click();
  await expect(options.locator('#phl-text')).toBeVisible();
  expect(await options.locator('#phl-text').textContent()).toBe(list);
});

test('hashing a large file on the settings page finishes while the page collects garbage', async ({ context, serviceWorker }) => {
  // Chromium collects a Blob's stream with its pending read once nothing
  // reachable refers to it; the hasher must hold its reader, or the hash
  // never finishes. Collections are forced all through the read.
  const size = 128 * MiB;
  const options = await openSettings(context, serviceWorker);
  const cdp = await context.newCDPSession(options);
  let collecting = true;
  const collector = (async () => {
    while (collecting) {
      await cdp.send('HeapProfiler.collectGarbage');
      await sleep(20);
    }
  })();
  try {
    const hashed = options.evaluate(async (size) => {
      const { sha256Hex } = await import('./hash-file.js');
      return sha256Hex(new Blob([new Uint8Array(size).fill(7)]));
    }, size);
    const stalled = sleep(30_000).then(() => 'no answer within 30 s');
    expect(await Promise.race([hashed, stalled])).toBe(createHash('sha256').update(Buffer.alloc(size, 7)).digest('hex'));
  } finally {
    collecting = false;
    await collector;
  }
});

test('a web page cannot send the user\'s admin requests', async ({ context, serviceWorker, openPage, server }) => {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  const hex = await store(a, 2000, 40, 'binary', { origins: '*' });
  for (const page of [a, b]) {
    const replies = await page.evaluate(
      async ({ hex, origin }) => {
        const send = rawChannel();
        return Promise.all([
          send({ op: 'clear' }),
          send({ op: 'delete', hash: hex }),
          send({ op: 'delete-site', origin }),
          send({ op: 'settings', settings: { budgetBytes: 0 } }),
          send({ op: 'add-public-hashes', hashes: [hex] }),
          send({ op: 'summary' }),
          // The old wire's JSON text, and the request wrapped once more.
          send(JSON.stringify({ op: 'clear' })),
          send({ request: { op: 'clear' } }),
          send({ publicList: { op: 'set-url', url: 'https://tracker.example/list.txt' } }),
          send({ request: JSON.stringify({ op: 'clear' }) }),
        ]);
      },
      { hex, origin: server.origin('a.test') },
    );
    for (const reply of replies) expect(reply).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
  }
  // Still stored, and still not public: the page's add-public-hashes did nothing.
  await readsOk(a, hex);
  await readsNotFound(b, hex);
  const popup = await openPopup(context, serviceWorker);
  expect(await totals(popup)).toMatchObject({ files: 1, stored: 2000 });
  expect(await popup.evaluate(() => chrome.storage.local.get(['settings', 'manual-hashes', 'public-list-url']))).toEqual({});
});

test('screenshots of the popup and the settings page in light and dark mode', async ({ context, serviceWorker, openPage, server }, testInfo) => {
  const { a, b } = await scenario({ openPage, context, serviceWorker });
  const c = await openPage('c.test');
  const big = await store(a, 600_000, 50, 'onnx', { origins: '*' });
  await makePublic(context, serviceWorker, big);
  await readsOk(b, big);
  await readsOk(c, big);
  await store(c, 120_000, 51, 'wasm', { origins: '*' });
  const popup = await openPopup(context, serviceWorker, server.origin('b.test'));
  await popup.setViewportSize({ width: 460, height: 600 });
  const shoot = async (page, name) => {
    const path = join(REPO_ROOT, 'test-results', `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    await testInfo.attach(name, { path, contentType: 'image/png' });
  };
  for (const colorScheme of ['light', 'dark']) {
    await popup.emulateMedia({ colorScheme });
    await shoot(popup, `popup-${colorScheme}`);
  }
  await popup.locator('#clear').click();
  await shoot(popup, 'popup-confirm-dark');
  await popup.getByRole('button', { name: 'Cancel' }).click();

  const options = await openSettings(context, serviceWorker);
  await options.locator('#manual-files').setInputFiles([{ name: 'all-MiniLM-L6-v2.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('weights') }]);
  await expect(options.locator('#manual-list li[data-hash]').filter({ hasText: 'all-MiniLM-L6-v2.onnx' })).toHaveCount(1);
  await options.getByText('Show the bundled list').click();
  for (const colorScheme of ['light', 'dark']) {
    await options.emulateMedia({ colorScheme });
    await shoot(options, `options-${colorScheme}`);
  }
});
