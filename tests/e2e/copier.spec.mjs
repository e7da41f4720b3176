// Large Blobs, and what else the file gets, are written and digested by
// the offscreen copier (extension/worker/copier.js,
// extension/offscreen/): the engine still decides on the digest it reports,
// an overwrite after the hand-over is verified from the file, a document
// closed mid-write, a frame gone mid-write or a restarted service worker
// leaves nothing behind, and the document goes once idle.
import { test, expect } from './fixtures.mjs';
import { patternHash } from '../../scripts/lib/pattern.mjs';
import { MiB, inWorker, makePublic, restartWorker, sleep, storeState } from './sw-tools.mjs';

test.describe.configure({ mode: 'parallel' });

const hasCopier = (context) => inWorker(context, () => chrome.offscreen.hasDocument());

/** Polls until `check()` is true, or fails after `timeoutMs`. */
async function until(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * In `page`: writes `size` pattern bytes of `seed` under the declared `hex`
 * with one write(blob); with `prefix`, the first 8 MiB go first as page
 * bytes (one write()) and the Blob holds the rest; with `rewrite`, the
 * first 8 MiB are written again at 0 afterwards (the same bytes, as page
 * bytes). Returns 'ok' or the error's name.
 */
function writeFile(page, hex, size, seed, { prefix = false, rewrite = false } = {}) {
  return page.evaluate(
    async ([hex, size, seed, prefix, rewrite]) => {
      const chunk = 8 << 20;
      const part = (at) => patternBytes(Math.min(chunk, size - at), seed + at * 31);
      try {
        const handle = await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true, origins: '*' });
        const writable = await handle.createWritable();
        if (prefix) await writable.write(part(0));
        const parts = [];
        for (let at = prefix ? chunk : 0; at < size; at += chunk) parts.push(part(at));
        await writable.write(new Blob(parts));
        if (rewrite) await writable.write({ type: 'write', position: 0, data: part(0) });
        await writable.close();
        return 'ok';
      } catch (e) {
        return e.name;
      }
    },
    [hex, size, seed, prefix, rewrite],
  );
}

const temps = async (context) => Object.keys((await storeState(context)).tmp);

test('a large file goes through the copier: a wrong hash stores nothing, the right one reads back elsewhere, the document closes after', async ({
  context,
  openPage,
}) => {
  test.setTimeout(120_000);
  const size = 256 * MiB;
  const hex = patternHash(size, 5);
  await makePublic(context, [hex]);
  const a = await openPage('a.test');

  expect(await writeFile(a, patternHash(size, 6), size, 5)).toBe('DataError');
  expect(await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).toMatchObject({ name: 'NotFoundError' });

  let seen = false;
  const watching = (async () => {
    while (!seen) {
      seen = await hasCopier(context);
      await sleep(20);
    }
  })();
  expect(await writeFile(a, hex, size, 5)).toBe('ok');
  seen = seen || (await hasCopier(context));
  const wasSeen = seen;
  seen = true;
  await watching;
  expect(wasSeen, 'the copier document was open during the write').toBe(true);
  await until(async () => !(await hasCopier(context)), 'the copier document to close');

  const b = await openPage('b.test');
  expect((await b.evaluate((hex) => outcome(() => readBack(hex)), hex)).ok).toEqual({ size, hash: hex, name: hex });
  expect(await temps(context)).toEqual([]);
});

test('page bytes before the Blob are digested by the copier from the file; an overwrite after it is verified from the file', async ({
  context,
  openPage,
}) => {
  test.setTimeout(120_000);
  const size = 96 * MiB;
  const hex = patternHash(size, 7);
  const a = await openPage('a.test');
  expect(await writeFile(a, hex, size, 7, { prefix: true })).toBe('ok');
  expect(await writeFile(a, patternHash(size, 8), size, 7, { prefix: true })).toBe('DataError');
  expect(await writeFile(a, hex, size, 7, { rewrite: true })).toBe('ok');
  expect((await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).ok).toMatchObject({ size, hash: hex });
  expect(await temps(context)).toEqual([]);
});

test('the copier closed mid-write: the write fails, nothing is stored or left in tmp/, a retry succeeds', async ({
  context,
  openPage,
}) => {
  test.setTimeout(180_000);
  const size = 1024 * MiB;
  const hex = patternHash(size, 9);
  const a = await openPage('a.test');
  const write = writeFile(a, hex, size, 9);
  await until(() => hasCopier(context), 'the copier document to open', 60_000);
  await inWorker(context, () => chrome.offscreen.closeDocument());
  const failed = await write;
  expect(failed, 'the write fails with a plain error').not.toBe('ok');
  expect(await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).toMatchObject({ name: 'NotFoundError' });
  await until(async () => (await temps(context)).length === 0, 'tmp/ to be empty');

  expect(await writeFile(a, hex, size, 9)).toBe('ok');
  expect((await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).ok).toMatchObject({ size, hash: hex });
});

test('a frame gone mid-write stops the copier: tmp/ empties, the document closes, another tab stores the file', async ({
  context,
  openPage,
}) => {
  test.setTimeout(180_000);
  const size = 1024 * MiB;
  const hex = patternHash(size, 13);
  const a = await openPage('a.test');
  writeFile(a, hex, size, 13).catch(() => {});
  await until(() => hasCopier(context), 'the copier document to open', 60_000);
  await a.close();
  // Promptly, not once the write is done: its clean-up waits for the copier's step.
  await until(async () => (await temps(context)).length === 0, 'tmp/ to be empty within 5 s', 5_000);
  await until(async () => !(await hasCopier(context)), 'the copier document to close');

  const b = await openPage('b.test');
  expect(await writeFile(b, hex, size, 13)).toBe('ok');
  expect((await b.evaluate((hex) => outcome(() => readBack(hex)), hex)).ok).toMatchObject({ size, hash: hex });
});

test('the service worker restarted mid-write: the write fails cleanly, the new worker frees and clears tmp/, a retry succeeds', async ({
  context,
  openPage,
}) => {
  test.setTimeout(180_000);
  const size = 1024 * MiB;
  const hex = patternHash(size, 17);
  const a = await openPage('a.test');
  const write = writeFile(a, hex, size, 17);
  await until(() => hasCopier(context), 'the copier document to open', 60_000);
  await restartWorker(a).catch(() => {});
  expect(await write, 'the write fails with a plain error').not.toBe('ok');
  await until(async () => (await temps(context)).length === 0, 'tmp/ to be empty', 30_000);
  expect(await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).toMatchObject({ name: 'NotFoundError' });

  expect(await writeFile(a, hex, size, 17)).toBe('ok');
  expect((await a.evaluate((hex) => outcome(() => readBack(hex)), hex)).ok).toMatchObject({ size, hash: hex });
});
