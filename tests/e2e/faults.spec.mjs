// Faults in the middle of writes: the service worker stopped (CDP), the tab
// closed, the whole browser SIGKILLed and relaunched on the same profile; a
// full store; an index and a blob directory that disagree. After each, every
// committed file still reads back and verifies, nothing partial is visible,
// temporary data is reclaimed and a retry succeeds.
// COS_LONG=1 adds several kills at random points and waits out the 5-minute
// idle expiry of a writable its page stopped feeding.
import { test, expect, launchBrowser } from './fixtures.mjs';
import { patternHash } from '../../scripts/lib/pattern.mjs';
import { MiB, admin, killBrowser, liveWorker, makePublic, restartWorker, sleep, storeState, inWorker } from './sw-tools.mjs';

const LONG = process.env.COS_LONG === '1';

test.describe.configure({ mode: 'parallel' });

/**
 * Installs `window.slowWrite(hex, size, seed, origins, holdAfter)`: streams
 * /bytes into a COS writable with pipeTo (as Transformers.js-style loaders
 * do), counting the bytes handed over in `window.progress`; with `holdAfter`,
 * it stops handing bytes over after that many, for good. Resolves to `{ok}`
 * or `{name, message}`.
 */
async function installWriter(page) {
  await page.evaluate(() => {
    window.progress = 0;
    window.slowWrite = async (hex, size, seed, origins = '*', holdAfter = Infinity) => {
      try {
        const handle = await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true, origins });
        const writable = await handle.createWritable();
        const response = await fetch(`/bytes?size=${size}&seed=${seed}`);
        const count = new TransformStream({
          async transform(chunk, controller) {
            if (window.progress >= holdAfter) await new Promise(() => {});
            window.progress += chunk.byteLength;
            controller.enqueue(chunk);
          },
        });
        await response.body.pipeThrough(count).pipeTo(writable);
        return { ok: true };
      } catch (e) {
        return { name: e.name, message: e.message };
      }
    };
  });
}

async function waitForProgress(page, bytes, timeoutMs = 60_000) {
  await page.waitForFunction((n) => window.progress >= n, bytes, { timeout: timeoutMs, polling: 50 });
}

/** Stores small committed files of several visibilities; returns [{hex, size}]. */
async function storeCommitted(page, count = 5) {
  return page.evaluate(async (count) => {
    const out = [];
    for (let i = 0; i < count; i++) {
      const size = [1, 1000, 65_536, 1 << 20, 3 * (1 << 20) + 7][i % 5];
      const options = [{}, { origins: '*' }, { origins: ['http://b.test'] }][i % 3];
      out.push({ hex: await storeBytes(patternBytes(size, 100 + i), options), size });
    }
    return out;
  }, count);
}

/** Reads every file back from `page`, recomputing its hash from the bytes. */
async function expectAllIntact(page, files) {
  const got = await page.evaluate((files) => Promise.all(files.map(({ hex }) => outcome(() => readBack(hex)))), files);
  files.forEach(({ hex, size }, i) => expect(got[i].ok, `committed file ${i}`).toMatchObject({ size, hash: hex }));
}

/** Temporary files of open writes (without OPFS's `.crswap` swap files). */
const tempSessions = (state) => Object.keys(state.tmp).filter((name) => !name.endsWith('.crswap'));

const readOutcome = (page, hex) => page.evaluate((hex) => outcome(() => readBack(hex)), hex);

test('service worker stopped in the middle of a 256 MiB write: clean error, nothing partial, retry succeeds, tmp reclaimed', async ({
  context,
  openPage,
}) => {
  test.setTimeout(240_000);
  const size = 256 * MiB;
  const hex = patternHash(size, 7);
  // Global and public, so that another site reading nothing partial proves something.
  await makePublic(context, [hex]);
  const a = await openPage('a.test');
  const committed = await storeCommitted(a);
  await installWriter(a);

  const write = a.evaluate(({ hex, size }) => slowWrite(hex, size, 7), { hex, size });
  await waitForProgress(a, 96 * MiB);
  const during = await storeState(context);
  // OPFS keeps an open writable's bytes in a `.crswap` file beside the temporary file.
  expect(tempSessions(during), 'the write is in a temporary file').toHaveLength(1);
  const t0 = Date.now();
  await restartWorker(a).catch(() => {});
  const result = await write;
  console.log(`[faults] worker stopped with ${(Math.max(...Object.values(during.tmp)) / MiB).toFixed(0)} MiB in tmp/; page saw ${JSON.stringify(result)} after ${Date.now() - t0} ms`);

  if (result.ok) {
    // Allowed: the write completed. Then it must be whole.
    expect((await readOutcome(a, hex)).ok).toEqual({ size, hash: hex, name: hex });
  } else {
    expect(result.name).toBe('InvalidStateError');
    expect(result.message).toMatch(/extension (restarted|is unavailable)|no longer open/);
    // Nothing partial is visible, to the writer or anyone else.
    expect(await readOutcome(a, hex)).toMatchObject({ name: 'NotFoundError' });
    const c = await openPage('c.test');
    expect(await readOutcome(c, hex)).toMatchObject({ name: 'NotFoundError' });
  }
  // The restarted worker reclaimed the temporary file of the lost write.
  const after = await storeState(context);
  expect(after.tmp, 'tmp/ after restart').toEqual({});
  expect(after.entries.sort()).toEqual(committed.map((f) => f.hex).concat(result.ok ? [hex] : []).sort());
  expect(Object.keys(after.blobs).sort()).toEqual(after.entries);
  await expectAllIntact(a, committed);

  // A retry succeeds and verifies.
  await a.evaluate(() => (window.progress = 0));
  expect(await a.evaluate(({ hex, size }) => slowWrite(hex, size, 7), { hex, size })).toEqual({ ok: true });
  const c = await openPage('c.test');
  expect((await readOutcome(c, hex)).ok).toMatchObject({ size, hash: hex });
  const final = await storeState(context);
  expect(final.tmp).toEqual({});
  expect(final.blobs[hex]).toBe(size);
});

test('tab closed mid-write: its write ends at once, committed files intact, nothing partial, another tab can write the same file', async ({
  context,
  openPage,
}) => {
  test.setTimeout(120_000);
  const size = 64 * MiB;
  const hex = patternHash(size, 8);
  await makePublic(context, [hex]);
  const a = await openPage('a.test');
  const committed = await storeCommitted(a);
  const writer = await openPage('a.test');
  await installWriter(writer);
  // It stalls after 16 MiB, so it is certainly still open when the tab closes.
  void writer.evaluate(({ hex, size, hold }) => slowWrite(hex, size, 8, '*', hold), { hex, size, hold: 16 * MiB }).catch(() => {});
  await waitForProgress(writer, 16 * MiB);
  expect(tempSessions(await storeState(context)), 'the write is open in the worker').toHaveLength(1);
  await writer.close();

  // The frame's port to the worker closed with the tab, and the write it
  // opened ended with it: no idle timeout, no restart needed.
  await expect.poll(async () => (await storeState(context)).tmp, { message: 'tmp/ after the tab closed', timeout: 10_000 }).toEqual({});
  const b = await openPage('b.test');
  expect(await readOutcome(a, hex)).toMatchObject({ name: 'NotFoundError' });
  expect(await readOutcome(b, hex)).toMatchObject({ name: 'NotFoundError' });
  await expectAllIntact(a, committed);

  await installWriter(b);
  expect(await b.evaluate(({ hex, size }) => slowWrite(hex, size, 8), { hex, size })).toEqual({ ok: true });
  expect((await readOutcome(a, hex)).ok).toMatchObject({ size, hash: hex });
  await expectAllIntact(a, committed);
});

test('a write the page stops feeding expires after 5 minutes idle, with its temporary file', async ({ context, openPage }) => {
  test.skip(!LONG, 'waits out the 5-minute idle expiry: COS_LONG=1');
  test.setTimeout(480_000);
  const page = await openPage('a.test');
  const hex = patternHash(2 * MiB, 9);
  await page.evaluate(async (hex) => {
    const handle = await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true });
    window.stalled = await handle.createWritable();
    await window.stalled.write(patternBytes(1 << 20, 9));
  }, hex);
  expect(tempSessions(await storeState(context)), 'the write is open in the worker').toHaveLength(1);

  // The page stays open but sends nothing: expired after 5 minutes idle
  // (checked every 20 s), without any restart.
  await sleep(5 * 60_000 + 45_000);
  expect((await storeState(context)).tmp, 'tmp/ after the idle expiry').toEqual({});
  const late = await page.evaluate(() =>
    outcome(async () => {
      await window.stalled.write(new Uint8Array(8));
      await window.stalled.close();
    }),
  );
  expect(late).toMatchObject({ name: 'InvalidStateError' });
});

/**
 * After a relaunch on the same profile: every committed file verifies, and
 * tmp/, the index and blobs/ hold exactly what was committed. Returns a page.
 */
async function checkRelaunched(context, server, committed, label) {
  await liveWorker(context);
  const page = await context.newPage();
  await page.goto(server.origin('a.test') + '/page.html');
  await expectAllIntact(page, committed);
  const state = await storeState(context);
  expect(state.tmp, `${label}: tmp/ after relaunch`).toEqual({});
  expect(state.entries, `${label}: index after relaunch`).toEqual(committed.map((f) => f.hex).sort());
  expect(Object.keys(state.blobs).sort(), `${label}: blobs after relaunch`).toEqual(state.entries);
  return page;
}

test('browser SIGKILLed mid-write and relaunched on the same profile: everything committed survives, nothing partial, tmp reclaimed', async ({
  server,
  userDataDir,
}) => {
  const rounds = LONG ? 5 : 1;
  test.setTimeout(rounds * 120_000);
  const size = 128 * MiB;
  let committed = [];
  for (let round = 0; round < rounds; round++) {
    const context = await launchBrowser(userDataDir, server);
    try {
      // Everything committed in earlier rounds survived the previous kill.
      const page = await checkRelaunched(context, server, committed, `round ${round}`);

      // Commit a few more (one of them the file the previous round's kill interrupted).
      const seed = 20 + round;
      const more = await page.evaluate(async (seed) => {
        const out = [];
        for (const size of [4096, 2 * (1 << 20)]) out.push({ hex: await storeBytes(patternBytes(size, seed), { origins: '*' }), size });
        return out;
      }, seed);
      committed = [...committed, ...more];
      if (round > 0) {
        const hex = patternHash(size, seed - 1);
        await installWriter(page);
        expect(await page.evaluate(({ hex, size, seed }) => slowWrite(hex, size, seed), { hex, size, seed: seed - 1 })).toEqual({ ok: true });
        committed.push({ hex, size });
      }
      // Kill the browser mid-write (at a random point in later rounds; the first at 32 MiB).
      const hex = patternHash(size, seed);
      await installWriter(page);
      void page.evaluate(({ hex, size, seed }) => slowWrite(hex, size, seed), { hex, size, seed }).catch(() => {});
      const at = round === 0 ? 32 * MiB : Math.floor(Math.random() * size);
      await waitForProgress(page, at);
      await killBrowser(context, userDataDir);
      console.log(`[faults] round ${round}: browser SIGKILLed after ${(at / MiB).toFixed(0)} MiB of a ${size / MiB} MiB write; ${committed.length} files committed before`);
    } finally {
      await context.close().catch(() => {});
    }
  }
  // The last relaunch: all committed files intact, the interrupted one absent, tmp empty, then its retry works.
  const context = await launchBrowser(userDataDir, server);
  try {
    const page = await checkRelaunched(context, server, committed, 'last relaunch');
    const interrupted = patternHash(size, 20 + rounds - 1);
    expect(await readOutcome(page, interrupted)).toMatchObject({ name: 'NotFoundError' });
    await installWriter(page);
    expect(await page.evaluate(({ hex, size, seed }) => slowWrite(hex, size, seed), { hex: interrupted, size, seed: 20 + rounds - 1 })).toEqual({ ok: true });
    expect((await readOutcome(page, interrupted)).ok).toMatchObject({ size, hash: interrupted });
  } finally {
    await context.close();
  }
});

// A 3 MiB budget lets each origin hold 2 MiB (the budget rounded down to a
// power of two): its stored files plus its open writes.
test('storage full: the write past its origin\'s limit rejects with QuotaExceededError and every existing file is intact', async ({
  context,
  serviceWorker,
  openPage,
}) => {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  await admin(context, serviceWorker, { op: 'settings', settings: { budgetBytes: 3 * MiB } });
  const existing = [
    ...(await a.evaluate(async () => [{ hex: await storeBytes(patternBytes(1 << 20, 1), { origins: '*' }), size: 1 << 20 }]))
  ];
  existing.push(...(await b.evaluate(async () => [{ hex: await storeBytes(patternBytes(1 << 20, 2)), size: 1 << 20 }])));
  // a.test's file is global and public: b.test reads it below.
  await makePublic(context, [existing[0].hex]);
  const before = await storeState(context);

  const attempts = await a.evaluate(async () => {
    // Beside this origin's 1 MiB it would fit the 3 MiB budget, but not the 2 MiB origin limit.
    const pastLimit = await outcome(() => storeBytes(patternBytes(2 << 20, 3), { origins: '*' }));
    // Larger than the whole budget: refused as soon as a write passes the limit.
    const early = await outcome(async () => {
      const bytes = patternBytes(4 << 20, 4);
      const value = await sha256Hex(bytes);
      const w = await (await navigator.crossOriginStorage.getFileHandle(hashOf(value), { create: true })).createWritable();
      for (let off = 0; off < bytes.length; off += 1 << 20) await w.write(bytes.subarray(off, off + (1 << 20)));
      await w.close();
    });
    // Re-writing stored bytes costs nothing and still succeeds.
    const rewrite = await outcome(() => storeBytes(patternBytes(1 << 20, 1), { origins: '*' }));
    // What still fits, fits.
    const small = await outcome(() => storeBytes(patternBytes(500_000, 5)));
    return { pastLimit, early, rewrite, small };
  });
  expect(attempts.pastLimit).toMatchObject({ name: 'QuotaExceededError' });
  // A limit in the message would tell pages about the disk.
  expect(attempts.pastLimit.message).toContain('space this site may use');
  expect(attempts.pastLimit.message).not.toMatch(/\d/);
  expect(attempts.early).toMatchObject({ name: 'QuotaExceededError' });
  expect(attempts.rewrite.ok).toHaveLength(64);
  expect(attempts.small.ok).toHaveLength(64);
  await expectAllIntact(a, existing.slice(0, 1));
  await expectAllIntact(b, existing);
  const after = await storeState(context);
  expect(after.entries).toEqual([...before.entries, attempts.small.ok].sort());
  const stored = Object.values(after.blobs).reduce((n, s) => n + s, 0);
  expect(stored).toBeLessThanOrEqual(3 * MiB);
  const refused = await a.evaluate(async () => [await sha256Hex(patternBytes(2 << 20, 3)), await sha256Hex(patternBytes(4 << 20, 4))]);
  for (const hex of refused) expect(await readOutcome(a, hex)).toMatchObject({ name: 'NotFoundError' });
});

// Regression (found by this suite, fixed in b513a79): when the engine refused
// a `write`/`seek`/`truncate` of an open writable (over the budget, past the
// largest position, ...), it ended the session but the worker never learnt
// the session id, so the temporary file, its .crswap and the open writable
// stayed until the worker restarted: up to the bytes written so far per
// refused write, outside the budget, repeatable by any page.
test('writes the engine refuses mid-stream leave no temporary file behind', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  await admin(context, serviceWorker, { op: 'settings', settings: { budgetBytes: 3 * MiB } });
  const replies = await a.evaluate(async () => {
    const cos = navigator.crossOriginStorage;
    const writable = async (seed) =>
      (await cos.getFileHandle(hashOf(await sha256Hex(patternBytes(10, seed))), { create: true })).createWritable();
    // Over the origin's 2 MiB limit after 2 MiB already written.
    const overBudget = await outcome(async () => {
      const w = await writable(1);
      await w.write(patternBytes(2 << 20, 1));
      await w.write(patternBytes(2 << 20, 2));
      await w.close();
    });
    // A write ending past the largest file position (2^53 - 1), after 1 MiB written.
    const pastEnd = await outcome(async () => {
      const w = await writable(3);
      await w.write(patternBytes(1 << 20, 4));
      await w.write({ type: 'write', position: 2 ** 53 - 1, data: new Uint8Array(2) });
      await w.close();
    });
    // A seek to a position no file has (not even a safe integer), after 1 MiB written.
    const badSeek = await outcome(async () => {
      const w = await writable(2);
      await w.write(patternBytes(1 << 20, 3));
      await w.seek(2 ** 60);
      await w.close();
    });
    return { overBudget, pastEnd, badSeek };
  });
  expect(replies.overBudget).toMatchObject({ name: 'QuotaExceededError' });
  expect(replies.pastEnd).toMatchObject({ name: 'InvalidStateError' });
  expect(replies.badSeek.name).toMatch(/InvalidStateError|TypeError/);
  const state = await storeState(context);
  expect(state.entries).toEqual([]);
  expect(state.tmp, 'temporary files of refused writes').toEqual({});
});

test('start-up reconciles the index with the stored bytes after a crash left them disagreeing', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  const files = await storeCommitted(a, 5);
  const [lostBytes, lostEntry, kept, ...rest] = files;
  const strayHash = 'ab'.repeat(32);
  // Simulate what a crash (or a tampering hand) can leave behind.
  await inWorker(
    context,
    async ({ lostBytes, lostEntry, strayHash }) => {
      const root = await navigator.storage.getDirectory();
      const blobs = await root.getDirectoryHandle('blobs');
      await blobs.removeEntry(lostBytes); // an entry without bytes
      await chrome.storage.local.remove(`entry:${lostEntry}`); // bytes without an entry
      for (const name of [strayHash, 'not-a-hash.txt']) {
        const w = await (await blobs.getFileHandle(name, { create: true })).createWritable();
        await w.write('stray bytes');
        await w.close();
      }
      await blobs.getDirectoryHandle('a-directory', { create: true });
      const tmp = await root.getDirectoryHandle('tmp', { create: true });
      const w = await (await tmp.getFileHandle('i-999', { create: true })).createWritable();
      await w.write(new Uint8Array(1 << 20));
      await w.close();
      // A malformed index record, as a half-written or tampered key would be.
      await chrome.storage.local.set({ [`entry:${'cd'.repeat(32)}`]: { hash: 'not a hash', size: -1 } });
    },
    { lostBytes: lostBytes.hex, lostEntry: lostEntry.hex, strayHash },
  );
  const messages = [];
  const sw = await restartWorker(a);
  void sw;
  const state = await storeState(context);
  messages.push(state);
  const expected = [kept, ...rest].map((f) => f.hex).sort();
  expect(state.tmp, 'tmp/ emptied').toEqual({});
  expect(Object.keys(state.blobs).sort(), 'only indexed files remain in blobs/').toEqual(expected);
  expect(state.entries.filter((h) => h !== 'cd'.repeat(32)), 'only entries with bytes remain').toEqual(expected);
  expect(await readOutcome(a, lostBytes.hex)).toMatchObject({ name: 'NotFoundError' });
  expect(await readOutcome(a, lostEntry.hex)).toMatchObject({ name: 'NotFoundError' });
  expect(await readOutcome(a, strayHash)).toMatchObject({ name: 'NotFoundError' });
  await expectAllIntact(a, [kept, ...rest]);
  // Both lost files can be stored again, and then read.
  await a.evaluate(
    (sizes) => Promise.all(sizes.map(([size, seed]) => storeBytes(patternBytes(size, seed)))),
    [
      [lostBytes.size, 100],
      [lostEntry.size, 101],
    ],
  );
  await expectAllIntact(a, files);
  const final = await storeState(context);
  expect(Object.keys(final.blobs).sort()).toEqual(files.map((f) => f.hex).sort());
});

// Regression (found by this suite, fixed in b513a79): reconciliation matched
// names only and a read served blobs/<hash> as it was, so a blob truncated on
// disk (a full disk, a non-atomic file system, tampering) was served under a
// hash it does not have. A same-size bit flip is still not caught without
// re-hashing every file; that is printed, not asserted.
test('a stored file truncated on disk is never served under its hash', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  const [truncated, flipped] = await a.evaluate(async () => [
    await storeBytes(patternBytes(100_000, 110), { origins: '*' }),
    await storeBytes(patternBytes(100_000, 111), { origins: '*' }),
  ]);
  await inWorker(
    context,
    async ({ truncated, flipped }) => {
      const blobs = await (await navigator.storage.getDirectory()).getDirectoryHandle('blobs');
      const t = await (await blobs.getFileHandle(truncated)).createWritable({ keepExistingData: true });
      await t.truncate(50_000);
      await t.close();
      const f = await (await blobs.getFileHandle(flipped)).createWritable({ keepExistingData: true });
      await f.write({ type: 'write', position: 10, data: new Uint8Array([0xff]) });
      await f.close();
    },
    { truncated, flipped },
  );
  await restartWorker(a);
  const b = await openPage('b.test');
  const flip = await readOutcome(b, flipped);
  console.log(`[faults] same-size bit flip on disk: ${flip.ok ? (flip.ok.hash === flipped ? 'served, verified' : 'served unverified bytes') : flip.name}`);
  const got = await readOutcome(b, truncated);
  // Either refused, or the bytes served hash to the name. Never other bytes under this hash.
  if (got.ok) expect(got.ok, 'bytes served for the truncated blob').toMatchObject({ size: 100_000, hash: truncated });
  else expect(got.name).toBe('NotFoundError');
});
