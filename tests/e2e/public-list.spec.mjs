// The Public Hash List as a deployment runs it: refreshed from a URL set on
// the settings page (or by enterprise policy), verified against its sidecar,
// kept across restarts, the bundled list as the fallback and nothing at all
// (fail closed) when no valid list ever loaded; and the user's own entries,
// picked as files on the settings page. Each is judged by what another site
// can read: a file a.test stored for every site reaches b.test only while
// its hash is listed.
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect, REPO_ROOT, launchBrowser } from './fixtures.mjs';
import { copyExtension, launchUnderPolicy, POLICY_DIR, unpackedId, writeExtensionPolicy } from './extension-copies.mjs';
import { listText, startListServer } from './list-server.mjs';
import { patternBytes } from '../../scripts/lib/pattern.mjs';
import { extensionId, inWorker, liveWorker, restartWorker } from './sw-tools.mjs';

const LIST_PATH = '/lists/public_hash_list.txt';
/** On the bundled list: an ONNX Runtime Web binary (14 MB), as Transformers.js stores it. */
const BUNDLED_FILE = join(REPO_ROOT, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm');
/**
 * Files read through the global grant are larger than GREASE_MAX_BYTES
 * (500 KiB), so GREASE never refuses them: a refusal here is the list's.
 */
const SIZE = 600_000;

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Stores pattern bytes from `page` for every site; returns its hash. */
const storePattern = (page, size, seed) => page.evaluate(({ size, seed }) => storeBytes(patternBytes(size, seed), { origins: '*' }), { size, seed });
/** Stores the bundled-list file from `page` for every site (fetched from `lists`); returns its hash. */
async function storeBundledFile(page, lists) {
  lists.serve('/ort.wasm', await readFile(BUNDLED_FILE));
  const url = lists.url('/ort.wasm');
  return page.evaluate(async (url) => storeBytes(new Uint8Array(await (await fetch(url)).arrayBuffer()), { origins: '*' }), url);
}
const readOutcome = (page, hex) => page.evaluate((v) => outcome(() => readBack(v)), hex);
const readsOk = async (page, hex) => expect((await readOutcome(page, hex)).ok?.hash, `${page.url()} reads ${hex.slice(0, 8)}`).toBe(hex);
const readsNotFound = async (page, hex) =>
  expect(await readOutcome(page, hex), `${page.url()} must not read ${hex.slice(0, 8)}`).toMatchObject({ name: 'NotFoundError' });

async function openSettings(context, serviceWorker) {
  const options = await context.newPage();
  options.on('pageerror', (e) => console.log(`[options] page error: ${e.message}`));
  await options.goto(`chrome-extension://${extensionId(serviceWorker)}/extension/ui/options.html`);
  await expect(options.locator('#phl-source')).not.toBeEmpty();
  return options;
}

/** The settings page's view of the list in use. */
const listShown = async (options) => ({
  source: await options.locator('#phl-source [data-source]').getAttribute('data-source'),
  version: await options.locator('#phl-version').textContent(),
  count: Number(await options.locator('#phl-count data').getAttribute('value')),
  lastError: await options.locator('#phl-last-error').textContent(),
});

/** Saves `url` as the refresh URL on the settings page (which refreshes at once). */
async function setRefreshUrl(options, url) {
  await options.locator('#phl-url').fill(url);
  await options.locator('#phl-save').click();
}

/** The files in the worker's lists/ directory. */
const listFiles = (context) =>
  inWorker(context, async () => {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('lists', { create: true });
    const names = [];
    for await (const name of dir.keys()) names.push(name);
    return names;
  });

test('a list refreshed from a URL replaces the bundled one; a bad sidecar keeps it; it survives a restart', async ({
  context,
  serviceWorker,
  openPage,
}) => {
  const lists = await startListServer();
  try {
    const a = await openPage('a.test');
    const b = await openPage('b.test');
    const ortWasm = await storeBundledFile(a, lists);
    const first = await storePattern(a, SIZE, 1);
    const second = await storePattern(a, SIZE, 2);
    // The bundled list: the ORT binary is on it, the invented files are not.
    await readsOk(b, ortWasm);
    await readsNotFound(b, first);
    const options = await openSettings(context, serviceWorker);
    expect(await listShown(options)).toMatchObject({ source: 'bundled', lastError: 'none' });
    await expect(options.locator('#phl-refresh')).toBeDisabled();

    lists.serveList(LIST_PATH, listText('test-1', [first]));
    await setRefreshUrl(options, lists.url(LIST_PATH));
    await expect(options.locator('#status')).toContainText(`Public Hash List: ${lists.url(LIST_PATH)}, 1 hash.`);
    // The fields as one snapshot, once the page has shown the new list.
    await expect.poll(() => listShown(options)).toEqual({ source: 'url', version: 'test-1', count: 1, lastError: 'none' });
    await expect(options.locator('#phl-count')).toContainText('Hugging Face 1');
    await expect(options.locator('#phl-last-refresh')).not.toHaveText('never');
    await readsOk(b, first);
    await readsNotFound(b, second);
    // The refreshed list is the newer one: the bundled one no longer counts.
    await readsNotFound(b, ortWasm);
    await readsOk(a, ortWasm); // the storer always can

    // A list whose sidecar does not match is not used, and the error is shown.
    lists.serveList(LIST_PATH, listText('test-2', [second]), { sidecar: 'wrong' });
    await options.getByRole('button', { name: 'Refresh now' }).click();
    await expect(options.locator('#error')).toContainText('sidecar says');
    await expect(options.locator('#phl-last-error')).toContainText('sidecar says');
    expect(await listShown(options)).toMatchObject({ source: 'url', version: 'test-1', count: 1 });
    await readsOk(b, first);
    await readsNotFound(b, second);
    expect(await listFiles(context), 'the refused download is not kept').toHaveLength(1);

    // After a restart, the saved list (verified again) is in use, not the bundled one.
    await restartWorker(b);
    const again = await openSettings(context, await liveWorker(context));
    expect(await listShown(again)).toMatchObject({ source: 'url', version: 'test-1', count: 1 });
    await readsOk(b, first);
    await readsNotFound(b, ortWasm);

    // A good list replaces it, and the old file goes.
    lists.serveList(LIST_PATH, listText('test-3', [first, second]));
    await again.getByRole('button', { name: 'Refresh now' }).click();
    await expect(again.locator('#phl-version')).toHaveText('test-3');
    await expect(again.locator('#phl-last-error')).toHaveText('none');
    await readsOk(b, second);
    expect(await listFiles(context)).toHaveLength(1);

    // Clearing the URL goes back to the bundled list and forgets the saved one.
    await setRefreshUrl(again, '');
    await expect(again.locator('#phl-source [data-source]')).toHaveAttribute('data-source', 'bundled');
    await readsOk(b, ortWasm);
    await readsNotFound(b, first);
    expect(await listFiles(context)).toEqual([]);
  } finally {
    await lists.close();
  }
});

test('a saved list that no longer verifies is not used after a restart: the bundled one is', async ({ context, serviceWorker, openPage }) => {
  const lists = await startListServer();
  try {
    const a = await openPage('a.test');
    const b = await openPage('b.test');
    const ortWasm = await storeBundledFile(a, lists);
    const listed = await storePattern(a, SIZE, 3);
    const planted = await storePattern(a, SIZE, 4);
    lists.serveList(LIST_PATH, listText('good', [listed]));
    const options = await openSettings(context, serviceWorker);
    await setRefreshUrl(options, lists.url(LIST_PATH));
    await expect(options.locator('#phl-version')).toHaveText('good');
    await readsOk(b, listed);

    // Someone rewrites the saved text (a well-formed list that adds `planted`); the server is down.
    const [file] = await listFiles(context);
    await inWorker(
      context,
      async ({ file, text }) => {
        const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('lists');
        const writable = await (await dir.getFileHandle(file)).createWritable();
        await writable.write(text);
        await writable.close();
      },
      { file, text: listText('good', [listed, planted]) },
    );
    lists.fail(LIST_PATH);
    const requestsBefore = lists.requests.length;
    await restartWorker(b);
    const again = await openSettings(context, await liveWorker(context));
    await expect(again.locator('#phl-source [data-source]')).toHaveAttribute('data-source', 'bundled');
    await readsNotFound(b, planted);
    await readsNotFound(b, listed);
    await readsOk(b, ortWasm);
    // It tried to get the list again at once (and recorded that the server failed).
    await expect.poll(() => lists.requests.length).toBeGreaterThan(requestsBefore);
    await expect(again.locator('#phl-last-error')).not.toHaveText('none');
  } finally {
    await lists.close();
  }
});

test('fail closed: with no valid list ever loaded, a global file reaches no other site', async ({ server, userDataDir }) => {
  // The bundled list's sidecar is wrong and no refresh ever succeeded.
  const extensionDir = await copyExtension((dir) =>
    writeFile(join(dir, 'extension/pkg/public_hash_list.txt.sha256'), `${'0'.repeat(64)}  public_hash_list.txt\n`),
  );
  const lists = await startListServer();
  const context = await launchBrowser(userDataDir, server, { extensionDir });
  try {
    const serviceWorker = await liveWorker(context);
    const page = async (host) => {
      const p = await context.newPage();
      await p.goto(`${server.origin(host)}/page.html`);
      return p;
    };
    const a = await page('a.test');
    const b = await page('b.test');
    const sub = await page('sub.a.test');
    const ortWasm = await storeBundledFile(a, lists);
    await readsNotFound(b, ortWasm);
    await readsOk(sub, ortWasm); // same site as the storer: not the global grant
    const options = await openSettings(context, serviceWorker);
    await expect(options.locator('#phl-source')).toContainText('no valid list was loaded');
    expect(await listShown(options)).toMatchObject({ source: 'none', count: 0 });

    // A refresh that fails changes nothing...
    lists.serveList(LIST_PATH, listText('bad', [ortWasm]), { sidecar: 'wrong' });
    await setRefreshUrl(options, lists.url(LIST_PATH));
    await expect(options.locator('#error')).toContainText('sidecar says');
    expect(await listShown(options)).toMatchObject({ source: 'none', count: 0 });
    await readsNotFound(b, ortWasm);
    // ...and a good one is used (so this copy of the extension works otherwise).
    lists.serveList(LIST_PATH, listText('good', [ortWasm]));
    await options.getByRole('button', { name: 'Refresh now' }).click();
    await expect(options.locator('#phl-version')).toHaveText('good');
    await readsOk(b, ortWasm);
  } finally {
    await context.close();
    await lists.close();
    await rm(extensionDir, { recursive: true, force: true });
  }
});

test('files picked on the settings page are hashed there and become public; removing them ends it', async ({
  context,
  serviceWorker,
  openPage,
}) => {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  // Several 1 MiB slices and a part, and less than one slice.
  const big = patternBytes(3 * 1024 * 1024 + 5, 7);
  const small = patternBytes(SIZE, 9);
  const bigHash = await storePattern(a, big.length, 7);
  const smallHash = await storePattern(a, small.length, 9);
  const unpicked = await storePattern(a, 1000, 8);
  expect(bigHash).toBe(sha256(big));
  await readsNotFound(b, bigHash);

  const options = await openSettings(context, serviceWorker);
  await expect(options.locator('#manual-empty')).toBeVisible();
  await options.locator('#manual-files').setInputFiles([
    { name: 'model.bin', mimeType: 'application/octet-stream', buffer: big },
    { name: 'tokenizer.bin', mimeType: 'application/octet-stream', buffer: small },
  ]);
  // Hashing 3 MiB in the page can take a while on a loaded machine.
  await expect(options.locator('#status')).toContainText('Added 2 files to your public files.', { timeout: 30_000 });
  const entry = (hex) => options.locator(`#manual-list li[data-hash="${hex}"]`);
  await expect(entry(bigHash).locator('.name')).toHaveText('model.bin');
  await expect(entry(smallHash).locator('.name')).toHaveText('tokenizer.bin');
  await expect(options.locator('#manual-list li')).toHaveCount(2);
  await readsOk(b, bigHash);
  await readsOk(b, smallHash);
  await readsNotFound(b, unpicked);

  await entry(bigHash).getByRole('button', { name: 'Remove' }).click();
  await expect(entry(bigHash)).toHaveCount(0);
  await readsNotFound(b, bigHash);
  await readsOk(b, smallHash);
});

test('enterprise policy sets the refresh URL, over the user\'s, and the settings page says so', async ({ server, userDataDir }) => {
  test.skip(process.getuid?.() !== 0, `writing ${POLICY_DIR} needs root`);
  // Policy tests take turns (extension-copies.mjs): this one may wait for another's.
  test.setTimeout(180_000);
  const extensionDir = await copyExtension();
  const id = unpackedId(extensionDir);
  const lists = await startListServer();
  lists.serveList(LIST_PATH, listText('policy-list', []));
  lists.serveList('/user.txt', listText('user-list', []));
  const removePolicy = await writeExtensionPolicy(id, { publicHashListUrl: lists.url(LIST_PATH) });
  let context;
  try {
    context = await launchUnderPolicy(() => launchBrowser(userDataDir, server, { extensionDir }));
    const serviceWorker = await liveWorker(context);
    expect(extensionId(serviceWorker)).toBe(id);
    const options = await openSettings(context, serviceWorker);
    await expect(options.locator('#phl-policy')).toBeVisible();
    await expect(options.locator('#phl-policy-url')).toHaveText(lists.url(LIST_PATH));
    await expect(options.locator('#phl-url')).toBeDisabled();
    await expect(options.locator('#phl-url')).toHaveValue(lists.url(LIST_PATH));
    // Refreshed from the policy's URL at start-up, without anyone asking.
    await expect(options.locator('#phl-version')).toHaveText('policy-list');
    expect(await listShown(options)).toMatchObject({ source: 'policy', count: 0 });
    await expect(options.locator('#phl-source')).toContainText('set by policy');
    // The worker refuses a user URL while the policy is set...
    const reply = await options.evaluate(() => chrome.runtime.sendMessage({ publicList: { op: 'set-url', url: 'https://example.com/list.txt' } }));
    expect(reply).toMatchObject({ ok: false, error: { message: expect.stringContaining('policy') } });
    // ...and one saved before the policy came is not used.
    await options.evaluate((url) => chrome.storage.local.set({ 'public-list-url': url }), lists.url('/user.txt'));
    await options.getByRole('button', { name: 'Refresh now' }).click();
    await expect(options.locator('#status')).toContainText(`Public Hash List: ${lists.url(LIST_PATH)}`);
    await expect(options.locator('#phl-version')).toHaveText('policy-list');
    expect(lists.requests).not.toContain('/user.txt');

    // The policy goes while the browser is closed (and the user set no URL): the list it brought
    // goes too (Chromium reports the removed policy as a change when it starts).
    await options.evaluate(() => chrome.storage.local.remove('public-list-url'));
    await context.close();
    await removePolicy({ release: false });
    context = await launchBrowser(userDataDir, server, { extensionDir });
    const after = await openSettings(context, await liveWorker(context));
    await expect(after.locator('#phl-policy')).toBeHidden();
    await expect(after.locator('#phl-url')).toBeEnabled();
    // The worker hears of the removal when the browser has re-read its policies (a few seconds).
    await expect(after.locator('#phl-source [data-source]')).toHaveAttribute('data-source', 'bundled', { timeout: 30_000 });
  } finally {
    await context?.close();
    await removePolicy();
    await lists.close();
    await rm(extensionDir, { recursive: true, force: true });
  }
});
