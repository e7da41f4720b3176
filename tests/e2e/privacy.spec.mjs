// Privacy from the attacker's side (issue 11): every value a page can observe
// from the extension (write-session ids, file times, close() warnings, quota
// answers, which hosts count as one site, how long the worker stays busy,
// what content scripts can reach, what an incognito tab sees) must not let
// two sites, or an incognito and a regular tab, recognise the same user or
// learn about each other's files; and what a page sends must not grow the
// store without bound or land on disk under a hash it does not have. Each
// test plays the attacker with the page's own means: the public API, the raw
// bridge protocol any page script can speak (helpers.js rawChannel), and
// DevTools where a compromised renderer or a debugger's view is simulated.
// Assertions are about the property, not about a format. Leaks of the issue,
// in order: 1 session ids, 2 lastModified, 3 close() warnings, 4 quota
// messages and thresholds, 5 trailing-dot hosts, 6 truncate and abandoned
// work, 7 chrome.storage from content scripts and malformed records,
// 8 incognito, 9 unbounded growth, 10 transient read errors, 11 live Files.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, expect, launchBrowser } from './fixtures.mjs';
import { MiB, admin, extensionId, inWorker, liveWorker, makePublic, restartWorker, sleep, storeState } from './sw-tools.mjs';
import { DEBUG_PORT_ARG, allowInIncognito, browserDevTools } from './cdp-tools.mjs';

test.describe.configure({ mode: 'parallel' });

/** Opens `count` write sessions through the raw protocol; returns their ids (the sessions stay open). */
const openSessionIds = (page, count, seed) =>
  page.evaluate(
    async ({ count, seed }) => {
      window.send ??= rawChannel();
      const ids = [];
      for (let i = 0; i < count; i++) {
        const value = await sha256Hex(patternBytes(16, seed + i));
        const reply = await send({ op: 'write-begin', hash: hashOf(value), origins: '*' });
        if (!reply.ok) throw new Error(`write-begin refused: ${JSON.stringify(reply)}`);
        ids.push(reply.value.session);
      }
      return ids;
    },
    { count, seed },
  );

const abortSessions = (page, ids) =>
  page.evaluate((ids) => Promise.all(ids.map((session) => send({ op: 'abort', session }))), ids);

/** The longest substring `a` and `b` share (dynamic programming; ids are short). */
function longestCommonSubstring(a, b) {
  let best = '';
  const prev = new Array(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let diag = 0;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j];
      prev[j] = a[i - 1] === b[j - 1] ? diag + 1 : 0;
      if (prev[j] > best.length) best = a.slice(i - prev[j], i);
      diag = above;
    }
  }
  return best;
}

/**
 * The longest run of letters and digits that some id of `xs` shares with
 * some id of `ys`. Separators are dropped first: a UUID's fixed dashes and
 * version digit would otherwise make random ids share 8 characters now and
 * then. Random 128-bit ids share at most about 7 (checked over 1,000 draws of
 * 50 x 25 UUIDs, hex and base64url ids); so 10 or more is a shared part.
 */
function sharedPart(xs, ys) {
  const letters = (id) => id.replace(/[^0-9A-Za-z]/g, '');
  let shared = '';
  for (const x of xs) for (const y of ys) {
    const common = longestCommonSubstring(letters(x), letters(y));
    if (common.length > shared.length) shared = common;
  }
  return shared;
}
const SHARED_PART = 10;

const commonPrefix = (strings) => strings.reduce((p, s) => { let i = 0; while (i < p.length && p[i] === s[i]) i++; return p.slice(0, i); });
const reversed = (s) => [...s].reverse().join('');

/**
 * Bits an id can carry, as an attacker would bound them: the part that varies
 * between ids (common prefix and suffix removed) times the bits per character
 * of the smallest usual alphabet that covers every character seen.
 */
function estimatedBits(ids) {
  const prefix = commonPrefix(ids).length;
  const suffix = commonPrefix(ids.map(reversed)).length;
  const varying = ids.map((id) => id.slice(prefix, id.length - suffix));
  const chars = new Set(varying.join(''));
  const alphabets = [/^[0-9]$/, /^[0-9a-f]$/, /^[0-9a-f-]$/, /^[0-9A-Za-z]$/, /^[0-9A-Za-z_+/=-]$/];
  const sizes = [10, 16, 17, 62, 66];
  const index = alphabets.findIndex((re) => [...chars].every((c) => re.test(c)));
  const perChar = Math.log2(index < 0 ? Math.max(2, chars.size) : sizes[index]);
  return Math.min(...varying.map((v) => v.length)) * perChar;
}

/**
 * Whether the ids, in the order they were issued, carry a counter: a number at
 * the same place in every id that only ever goes up.
 */
function carriesCounter(ids) {
  const numbers = ids.map((id) => (id.match(/\d+/g) ?? []).map(Number));
  const places = numbers[0].length;
  if (!numbers.every((n) => n.length === places)) return false;
  for (let k = 0; k < places; k++) {
    if (numbers.every((n, i) => i === 0 || n[k] > numbers[i - 1][k])) return true;
  }
  return false;
}

test('two sites cannot link a user through write-session ids', async ({ openPage }) => {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  // Interleaved, so any shared counter would reveal the other site's writes.
  const fromA = [];
  const fromB = [];
  for (let round = 0; round < 5; round++) {
    fromA.push(...(await openSessionIds(a, 5, 1000 * round)));
    fromB.push(...(await openSessionIds(b, 5, 1000 * round + 500)));
  }
  fromA.push(...(await openSessionIds(a, 25, 9000)));
  const all = [...fromA, ...fromB];
  console.log(`[privacy] session ids look like ${JSON.stringify(fromA.slice(0, 2))}, ${JSON.stringify(fromB.slice(0, 1))}`);

  expect(all.every((id) => typeof id === 'string' && id.length > 0), 'ids are strings').toBe(true);
  expect(new Set(all).size, 'every id is distinct').toBe(all.length);
  // No shared part: an id of one site says nothing about the ids of another.
  const shared = sharedPart(fromA, fromB);
  expect(shared.length, `ids of a.test and b.test share ${JSON.stringify(shared)}`).toBeLessThan(SHARED_PART);
  // Not even two ids of one site share a part (no per-worker or per-site constant).
  expect(commonPrefix(fromA).length, `common prefix ${JSON.stringify(commonPrefix(fromA))}`).toBeLessThan(8);
  expect(carriesCounter(fromA), 'a.test ids carry a counter that counts everyone\'s writes').toBe(false);
  expect(carriesCounter(fromB), 'b.test ids carry a counter').toBe(false);
  expect(estimatedBits(all), 'random bits per id').toBeGreaterThanOrEqual(128);

  await abortSessions(a, fromA);
  await abortSessions(b, fromB);
});

test('two sites cannot link a user through the lastModified of a shared file', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  const stored = await a.evaluate(async () => {
    const x = await storeBytes(patternBytes(3000, 71), { origins: '*' });
    const storedX = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const y = await storeBytes(patternBytes(3000, 72), { origins: '*' });
    return { x, y, storedX, storedY: Date.now() };
  });
  // Public files, as the runtimes and models that sites share are.
  await makePublic(context, [stored.x, stored.y]);
  const lastModified = (page) =>
    page.evaluate(
      async ({ x, y }) => {
        const time = async (value) => (await (await navigator.crossOriginStorage.getFileHandle(hashOf(value))).getFile()).lastModified;
        return { x: await time(x), y: await time(y) };
      },
      stored,
    );
  const seen = {};
  for (const host of ['b.test', 'c.test', 'a.test']) {
    seen[host] = await lastModified(await openPage(host));
    // Reads at different moments: a time of reading is no constant either.
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(`[privacy] lastModified seen: ${JSON.stringify(seen)}; stored at ${stored.storedX}, ${stored.storedY}`);
  const values = Object.values(seen).flatMap(({ x, y }) => [x, y]);
  expect(new Set(values).size, 'one constant for every file on every site').toBe(1);
  // The constant is not when anything was stored (checked for both files).
  for (const t of [stored.storedX, stored.storedY]) expect(Math.abs(values[0] - t)).toBeGreaterThan(60_000);
});

/**
 * Stores the bytes of `seed` from `page` with `options`; returns the close()
 * outcome and the console warnings it produced (both as the page sees them).
 */
async function storeAndWatch(page, seed, options) {
  const warnings = [];
  const onConsole = (m) => m.type() === 'warning' && warnings.push(m.text());
  page.on('console', onConsole);
  const result = await page.evaluate(({ seed, options }) => outcome(() => storeBytes(patternBytes(5000, seed), options)), { seed, options });
  // Console events arrive asynchronously; a round trip through the page flushes them.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
  page.off('console', onConsole);
  return { outcome: result.ok ? 'stored' : { name: result.name, message: result.message }, warnings: warnings.sort() };
}

test("a site cannot learn that the user has another site's private file from close() warnings", async ({ openPage, server }) => {
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  // a.test's private files: same-site only, listed for c.test only, and
  // listing the maximum of 64 origins (none of them b.test).
  const victim = {
    sameSite: {},
    listedForC: { origins: [server.origin('c.test')] },
    listedFull: { origins: Array.from({ length: 64 }, (_, i) => `http://o${i}.c.test:${server.port}`) },
  };
  // b.test writes a victim's bytes with options narrower than, wider than, or
  // overflowing the victim's, and the same options for bytes nobody stored:
  // what the page sees must be the same.
  const attempts = [
    ['sameSite', {}],
    ['sameSite', { origins: '*' }],
    ['listedForC', {}],
    ['listedForC', { origins: [server.origin('sub.a.test')] }],
    ['listedFull', {}],
    ['listedFull', { origins: [`http://extra.c.test:${server.port}`] }],
  ];
  let seed = 200;
  for (const [kind, options] of attempts) {
    // A fresh victim file per attempt: once b.test has written it, b.test is a storer.
    const victimSeed = seed++;
    expect((await storeAndWatch(a, victimSeed, victim[kind])).outcome, 'the victim file is stored').toBe('stored');
    const hidden = await b.evaluate(
      async (seed) => outcome(async () => navigator.crossOriginStorage.getFileHandle(hashOf(await sha256Hex(patternBytes(5000, seed))))),
      victimSeed,
    );
    expect(hidden.name, 'the victim file is hidden from b.test').toBe('NotFoundError');
    const onVictim = await storeAndWatch(b, victimSeed, options);
    const onNewFile = await storeAndWatch(b, 10_000 + seed++, options);
    expect(onVictim, `b.test writing a.test's ${kind} file with ${JSON.stringify(options)}`).toEqual(onNewFile);
  }
});

/** Sets the user's storage budget (null: the default, derived from the disk). */
const setBudget = (context, serviceWorker, budgetBytes) =>
  admin(context, serviceWorker, { op: 'settings', settings: { budgetBytes } });

test('quota error messages reveal neither the budget nor the disk size', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  // Two writes that cannot fit: 4 MiB in 1 MiB pieces (real bytes), and one
  // byte far past the end (no bytes); the index of the write that failed and
  // the error the page saw.
  const attempt = () =>
    a.evaluate(async () => {
      const cos = navigator.crossOriginStorage;
      const run = async (seed, writes) => {
        const value = await sha256Hex(patternBytes(64, seed));
        const w = await (await cos.getFileHandle(hashOf(value), { create: true })).createWritable();
        let done = 0;
        const result = await outcome(async () => {
          for (const write of writes) {
            await w.write(write);
            done++;
          }
          await w.close();
        });
        if (result.ok === undefined) await w.abort().catch(() => {});
        return { writesAccepted: done, name: result.name, message: result.message };
      };
      const chunk = patternBytes(1 << 20, 1);
      return {
        pieces: await run(1, [chunk, chunk, chunk, chunk]),
        farPastTheEnd: await run(2, [{ type: 'write', position: 2 ** 50, data: new Uint8Array(1) }]),
      };
    });
  await setBudget(context, serviceWorker, 3 * MiB);
  const small = await attempt();
  await setBudget(context, serviceWorker, 3 * MiB + 12_345);
  const other = await attempt();
  await setBudget(context, serviceWorker, null);
  const disk = await attempt();
  console.log(`[privacy] quota messages: ${JSON.stringify({ small, other, disk })}`);
  expect(small.pieces.name, '4 MiB under a 3 MiB budget').toBe('QuotaExceededError');
  expect(small.farPastTheEnd.name, 'one byte at 1 PiB').toEqual(expect.any(String));
  expect(other, 'the same writes under another budget').toEqual(small);
  // The default budget comes from the disk: the answer must not change with it.
  expect(disk.farPastTheEnd, 'under the default (disk-derived) budget').toEqual(small.farPastTheEnd);
});

test("a site cannot measure another site's download in progress through its own quota answers", async ({ context, serviceWorker, openPage }) => {
  test.setTimeout(120_000);
  await setBudget(context, serviceWorker, 4 * MiB);
  const a = await openPage('a.test');
  const b = await openPage('b.test');
  // The attacker's probe: does a write of `size` real bytes fit right now?
  // A binary search over the size finds the largest that does.
  const threshold = () =>
    a.evaluate(async (limit) => {
      window.send ??= rawChannel();
      const fits = async (size) => {
        const value = await sha256Hex(patternBytes(8, size));
        const begin = await send({ op: 'write-begin', hash: hashOf(value) });
        if (!begin.ok) throw new Error(`write-begin refused: ${JSON.stringify(begin)}`);
        const write = await send({ op: 'write', session: begin.value.session }, new ArrayBuffer(size), 20_000);
        await send({ op: 'abort', session: begin.value.session });
        if (write.timeout) throw new Error('write timed out');
        return write.ok;
      };
      let lo = 0; // fits (nothing written)
      let hi = limit + 1; // does not fit
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (await fits(mid)) lo = mid;
        else hi = mid;
      }
      return lo;
    }, 8 * MiB);
  // b.test keeps `bytes` of an unfinished write open (a download in progress).
  const openWrite = (bytes) =>
    b.evaluate(async (bytes) => {
      window.send ??= rawChannel();
      const value = await sha256Hex(patternBytes(8, bytes));
      const begin = await send({ op: 'write-begin', hash: hashOf(value), origins: '*' });
      const write = await send({ op: 'write', session: begin.value.session }, new ArrayBuffer(bytes), 20_000);
      if (!write.ok) throw new Error(`b.test write refused: ${JSON.stringify(write)}`);
      return begin.value.session;
    }, bytes);
  const closeWrite = (session) => b.evaluate((session) => send({ op: 'abort', session }), session);

  const alone = await threshold();
  const found = { alone };
  for (const bytes of [1 * MiB, 1 * MiB + 777]) {
    const session = await openWrite(bytes);
    found[`beside ${bytes} bytes of b.test`] = await threshold();
    await closeWrite(session);
  }
  console.log(`[privacy] largest write a.test can start: ${JSON.stringify(found)}`);
  expect(alone, 'the probe finds a threshold').toBeGreaterThan(0);
  for (const [when, value] of Object.entries(found)) expect(value, when).toBe(alone);
});

test('hosts with a trailing dot do not collapse into one site', async ({ server, userDataDir }) => {
  // `victim.com.` is a fully qualified host of its own; its site is not `com.`.
  const pairs = [
    ['a.test.', 'b.test.'],
    ['victim.com.', 'attacker.com.'],
    // A private suffix (github.io) must survive the dot as well.
    ['alice.github.io.', 'bob.github.io.'],
  ];
  const hosts = pairs.flat();
  const context = await launchBrowser(userDataDir, server, {
    secure: hosts.map((h) => server.origin(h)),
    args: ['--host-resolver-rules=MAP *.test 127.0.0.1, MAP *.test. 127.0.0.1, MAP *.com. 127.0.0.1, MAP *.github.io. 127.0.0.1'],
  });
  try {
    const open = async (host) => {
      const page = await context.newPage();
      await page.goto(server.origin(host) + '/page.html');
      return page;
    };
    for (const [victimHost, attackerHost] of pairs) {
      const victim = await open(victimHost);
      expect(await victim.evaluate(() => isSecureContext), `${victimHost} is a secure context`).toBe(true);
      const stored = await victim.evaluate((seed) => outcome(() => storeBytes(patternBytes(1000, seed))), hosts.indexOf(victimHost));
      const hex = stored.ok ?? (await victim.evaluate(async (seed) => sha256Hex(patternBytes(1000, seed)), hosts.indexOf(victimHost)));
      const attacker = await open(attackerHost);
      const seen = await attacker.evaluate(async (hex) => ({
        api: await outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(hex))),
        raw: await rawChannel()({ op: 'read', hash: hashOf(hex) }, undefined, 3000),
      }), hex);
      console.log(`[privacy] ${victimHost} stored: ${JSON.stringify(stored)}; ${attackerHost} saw ${JSON.stringify(seen)}`);
      expect.soft(seen.api.ok, `${attackerHost} opens ${victimHost}'s same-site-only file`).toBeUndefined();
      expect.soft(seen.raw.ok, `${attackerHost} reads ${victimHost}'s same-site-only file`).not.toBe(true);
    }
  } finally {
    await context.close();
  }
});

test('a page cannot reserve the budget with a sparse truncate and block other sites', async ({ context, serviceWorker, openPage }) => {
  const budget = 8 * MiB;
  await setBudget(context, serviceWorker, budget);
  const a = await openPage('a.test');
  const reserved = await a.evaluate(async (budget) => {
    window.send = rawChannel();
    const begin = async () => (await send({ op: 'write-begin', hash: hashOf('ab'.repeat(32)) })).value.session;
    // Past the budget: refused like a write past the budget.
    const over = await send({ op: 'truncate', session: await begin(), size: budget + 1 });
    // Exactly the budget, kept open: holds no bytes the page sent.
    const exact = await send({ op: 'truncate', session: await begin(), size: budget });
    return { over, exact };
  }, budget);
  const b = await openPage('b.test');
  const other = await b.evaluate(() => outcome(() => storeBytes(patternBytes(1 << 20, 91))));
  console.log(`[privacy] truncate past the budget: ${JSON.stringify(reserved.over)}, to the budget: ${JSON.stringify(reserved.exact)}; then b.test: ${JSON.stringify(other)}`);
  // The budget is checked on truncate, as on write...
  expect.soft(reserved.over, 'truncate past the budget').toMatchObject({ ok: false, error: { name: 'QuotaExceededError' } });
  // ...and what a truncate to the budget holds does not count against other sites.
  if (reserved.exact.ok) expect.soft(other, "b.test's write beside a.test's sparse file").toEqual({ ok: expect.any(String) });
  else expect.soft(reserved.exact.error.name).toBe('QuotaExceededError');
});

test('a page cannot make the worker hash a gigabyte it never sent', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const send = rawChannel();
    const session = (await send({ op: 'write-begin', hash: hashOf('cd'.repeat(32)) })).value.session;
    const truncate = await send({ op: 'truncate', session, size: 2 * 2 ** 30 });
    const write = await send({ op: 'write', session }, new ArrayBuffer(1));
    const t0 = performance.now();
    const close = await send({ op: 'close', session }, undefined, 60_000);
    return { truncate, write, close, closeMs: Math.round(performance.now() - t0) };
  });
  console.log(`[privacy] 2 GiB sparse session: ${JSON.stringify(got)}`);
  // Refused anywhere on the way (at truncate, write or close), and quickly.
  expect(got.close.ok, 'the zeros the page never sent are not stored').not.toBe(true);
  expect(got.closeMs, 'close() settles without hashing 2 GiB').toBeLessThan(3000);
});

test('closing the tab ends its write promptly: tmp/ is emptied and other sites are not held up', async ({ context, openPage }) => {
  test.setTimeout(120_000);
  const a = await openPage('a.test');
  // A real 2 GiB File from the page's own origin-private file system (sparse,
  // so cheap for the page), written through the public API.
  await a.evaluate(async () => {
    const handle = await (await navigator.storage.getDirectory()).getFileHandle('big', { create: true });
    const w = await handle.createWritable();
    await w.truncate(2 * 2 ** 30);
    await w.close();
    const file = await handle.getFile();
    const writable = await (await navigator.crossOriginStorage.getFileHandle(hashOf('ef'.repeat(32)), { create: true })).createWritable();
    writable.write(file).catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
  });
  expect(Object.keys((await storeState(context)).tmp).length, 'the write is in progress').toBeGreaterThan(0);
  await a.close();
  const closedAt = Date.now();
  const b = await openPage('b.test');
  const other = await b.evaluate(() => outcome(() => storeBytes(patternBytes(1 << 20, 92))));
  const otherMs = Date.now() - closedAt;
  let state = await storeState(context);
  while (Object.keys(state.tmp).length && Date.now() - closedAt < 30_000) {
    await sleep(250);
    state = await storeState(context);
  }
  const emptiedMs = Date.now() - closedAt;
  console.log(`[privacy] after the tab closed: b.test stored in ${otherMs} ms; tmp/ empty after ${emptiedMs} ms (${JSON.stringify(state.tmp)})`);
  expect(other.ok, "b.test's small write").toEqual(expect.any(String));
  expect(otherMs, "b.test's small write").toBeLessThan(5000);
  expect(emptiedMs, 'tmp/ emptied after the tab closed').toBeLessThan(5000);
});

/**
 * Runs `expression` in the content-script (isolated) world of the extension
 * in `page`, as a compromised renderer could; returns its value or the error.
 */
async function inContentScriptWorld(page, extension, expression) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const contexts = [];
    cdp.on('Runtime.executionContextCreated', ({ context }) => contexts.push(context));
    await cdp.send('Runtime.enable');
    const world = contexts.find((c) => c.auxData?.type === 'isolated' && c.origin === `chrome-extension://${extension}`);
    if (!world) throw new Error(`no content-script world in ${page.url()}`);
    const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', { expression, contextId: world.id, awaitPromise: true, returnByValue: true });
    return exceptionDetails ? { error: exceptionDetails.exception?.description ?? exceptionDetails.text } : { value: result.value };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

test("a compromised renderer cannot read or forge the extension's index through chrome.storage", async ({ context, serviceWorker, openPage, server }) => {
  const a = await openPage('a.test');
  const secret = await a.evaluate(() => storeBytes(patternBytes(2000, 93)));
  const b = await openPage('b.test');
  const extension = extensionId(serviceWorker);
  // b.test's renderer, taken over, runs code in b.test's content-script world.
  const read = await inContentScriptWorld(b, extension, 'chrome.storage.local.get(null).then((all) => JSON.stringify(all))');
  console.log(`[privacy] content script reads chrome.storage.local: ${JSON.stringify(read).slice(0, 300)}`);
  const leaked = read.value !== undefined && read.value !== '{}';
  expect.soft(leaked, `the content script read ${String(read.value).length} characters of the index`).toBe(false);
  expect.soft(String(read.value ?? '')).not.toContain(server.origin('a.test'));
  // Forging: every record that names the secret, made global; plus a probe key.
  const forge = await inContentScriptWorld(
    b,
    extension,
    `(async () => {
      const all = await chrome.storage.local.get(null).catch(() => ({}));
      const forged = { 'privacy-probe': 1 };
      for (const [key, value] of Object.entries(all)) {
        if (JSON.stringify(value).includes(${JSON.stringify(secret)})) forged[key] = { ...value, global: true };
      }
      await chrome.storage.local.set(forged);
      return Object.keys(forged).length;
    })()`,
  );
  console.log(`[privacy] content script writes chrome.storage.local: ${JSON.stringify(forge)}`);
  const landed = await inWorker(context, async () => Object.keys(await chrome.storage.local.get('privacy-probe')).length);
  expect.soft(landed, 'a key written from the content script').toBe(0);
  // The forged disclosure takes effect once the worker reloads the index.
  await restartWorker(b);
  const stolen = await b.evaluate((hex) => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(hex))), secret);
  expect.soft(stolen.name, "b.test opens a.test's same-site-only file after the forgery").toBe('NotFoundError');
});

test('a malformed settings or totals record does not brick the store', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  const kept = await a.evaluate(() => storeBytes(patternBytes(3000, 94), { origins: '*' }));
  const damaged = {
    settings: { budgetBytes: 'lots', strictGlobal: 'maybe', unknown: true },
    totals: { hits: -1, misses: 'many', savedBytes: null },
  };
  for (const [key, value] of Object.entries(damaged)) {
    await inWorker(context, (record) => chrome.storage.local.set(record), { [key]: value });
    await restartWorker(a);
    const after = await a.evaluate(async ({ kept, seed }) => ({
      read: await outcome(async () => (await readBack(kept)).hash),
      store: await outcome(() => storeBytes(patternBytes(1000, seed))),
    }), { kept, seed: key.length });
    expect.soft(after.read, `reading after a malformed ${key} record`).toEqual({ ok: kept });
    expect.soft(after.store, `storing after a malformed ${key} record`).toEqual({ ok: expect.any(String) });
  }
});

/** Every file under `dir` that contains `needle` (a string). */
async function filesContaining(dir, needle) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath ?? entry.path, entry.name);
    const bytes = await readFile(path).catch(() => null);
    if (bytes?.includes(needle)) found.push(path);
  }
  return found;
}

test('an incognito tab and a regular tab cannot recognise each other, and incognito leaves nothing on disk', async ({ server, userDataDir }) => {
  test.setTimeout(180_000);
  const context = await launchBrowser(userDataDir, server, { args: [DEBUG_PORT_ARG] });
  const devtools = await browserDevTools(userDataDir);
  try {
    const extension = extensionId(context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker')));
    if (!(await allowInIncognito(context, extension))) {
      // Refusing incognito altogether is one of the two answers the issue allows.
      console.log('[privacy] the extension cannot be allowed in incognito: nothing there to link');
      return;
    }

    // The regular profile: a user budget, a same-site-only file and a global one in use.
    const regular = await context.newPage();
    await regular.goto(server.origin('a.test') + '/page.html');
    const files = await regular.evaluate(async () => ({
      sameSite: await storeBytes(patternBytes(1000, 95)),
      global: await storeBytes(patternBytes(3 << 20, 96), { origins: '*' }),
    }));
    const worker = await liveWorker(context);
    await setBudget(context, worker, 4 * MiB);
    const regularIds = await openSessionIds(regular, 3, 300);

    // An incognito window, opened by the extension (in split mode the regular
    // side gets no handle on it); its tabs are found and driven over DevTools.
    const incognitoUrl = (host) => `${server.origin(host)}/page.html?incognito`;
    await worker.evaluate((url) => chrome.windows.create({ incognito: true, url }).then(() => {}), incognitoUrl('a.test'));
    const incognitoTarget = async (host) => {
      for (let tries = 0; tries < 100; tries++) {
        const target = (await devtools.targets()).find((t) => t.type === 'page' && t.url === incognitoUrl(host));
        if (target) return target;
        await sleep(100);
      }
      throw new Error(`no incognito tab for ${host}`);
    };
    const incognitoTab = async (host) => {
      const target = await incognitoTarget(host);
      const tab = await devtools.attach(target.targetId);
      for (let tries = 0; tries < 100 && (await tab.evaluate(() => document.readyState)) !== 'complete'; tries++) await sleep(100);
      return Object.assign(tab, { targetId: target.targetId });
    };
    const incognitoA = await incognitoTab('a.test');
    // An incognito session's first page loads before the extension's incognito
    // worker runs, so the extension never saw its response headers and refuses
    // it (worker/document-headers.js). Its first request starts the worker;
    // the reloaded page is seen.
    await incognitoA.evaluate(() => navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: '0'.repeat(64) }).catch(() => {}));
    await incognitoA.evaluate(() => void (window.beforeReload = true));
    await incognitoA.send('Page.reload');
    for (let tries = 0; tries < 100 && !(await incognitoA.evaluate(() => !window.beforeReload && document.readyState === 'complete')); tries++) await sleep(100);
    // A second incognito tab, of another site, opened the way a page can.
    await incognitoA.evaluate((url) => void window.open(url, '_blank', 'noopener'), incognitoUrl('c.test'));
    const incognitoC = await incognitoTab('c.test');

    // 1. The regular profile's files, as an incognito tab of the same site sees them.
    const seen = await incognitoA.evaluate(async (files) => {
      const send = rawChannel();
      const out = {};
      for (const [kind, value] of Object.entries(files)) out[kind] = await send({ op: 'open', hash: hashOf(value) }, undefined, 3000);
      return out;
    }, files);
    console.log(`[privacy] incognito a.test opening the regular profile's files: ${JSON.stringify(seen)}`);
    expect.soft(seen.sameSite.ok, "incognito a.test opens regular a.test's same-site-only file").not.toBe(true);
    expect.soft(seen.global.ok, "incognito a.test opens regular a.test's global file").not.toBe(true);

    // 2. Write-session ids of the two sides share nothing.
    const incognitoIds = await incognitoA.evaluate(async () => {
      const send = rawChannel();
      const ids = [];
      for (let i = 0; i < 3; i++) {
        const reply = await send({ op: 'write-begin', hash: hashOf((i + 1).toString(16).repeat(64)) }, undefined, 3000);
        if (reply.ok) ids.push(reply.value.session);
        await send({ op: 'abort', session: reply.value?.session ?? '' }, undefined, 3000);
      }
      return ids;
    });
    console.log(`[privacy] session ids: regular ${JSON.stringify(regularIds)}, incognito ${JSON.stringify(incognitoIds)}`);
    expect(incognitoIds, 'incognito a.test can use the store').toHaveLength(3);
    const shared = sharedPart(regularIds, incognitoIds);
    expect.soft(shared.length, `regular and incognito ids share ${JSON.stringify(shared)}`).toBeLessThan(SHARED_PART);
    await abortSessions(regular, regularIds);

    // 3. Incognito stores a marked file; the regular profile must not see it.
    const marker = `cos-incognito-marker-${Math.random().toString(36).slice(2)}`;
    const marked = await incognitoC.evaluate(async (marker) => {
      const bytes = new TextEncoder().encode(marker.repeat(Math.ceil(4096 / marker.length)));
      return { hash: await sha256Hex(bytes), stored: await outcome(() => storeBytes(bytes, { origins: '*' })) };
    }, marker);
    const fromRegular = await regular.evaluate((hex) => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf(hex))), marked.hash);
    console.log(`[privacy] incognito c.test stored the marked file: ${JSON.stringify(marked.stored)}; regular a.test opening it: ${JSON.stringify(fromRegular)}`);
    expect.soft(fromRegular.name, "regular a.test opens incognito c.test's global file").toBe('NotFoundError');

    // 4. Quota: incognito's answer must not depend on what the regular profile stores.
    const storeMiBAndHalf = (seed) =>
      incognitoA.evaluate(async (seed) => {
        const result = await outcome(() => storeBytes(patternBytes(3 << 19, seed)));
        return result.ok ? 'stored' : { name: result.name, message: result.message };
      }, seed);
    const besideRegularFiles = await storeMiBAndHalf(97);
    await admin(context, await liveWorker(context), { op: 'delete', hash: files.global });
    const withoutThem = await storeMiBAndHalf(98);
    console.log(`[privacy] incognito stores 1.5 MiB: ${JSON.stringify(besideRegularFiles)} beside the regular 3 MiB file, ${JSON.stringify(withoutThem)} once it is deleted`);
    expect.soft(besideRegularFiles, "incognito's quota answer beside the regular profile's 3 MiB file").toEqual(withoutThem);

    // 5. Once the incognito window is closed, the regular profile holds no trace of it...
    for (const tab of [incognitoA, incognitoC]) {
      await tab.detach();
      await devtools.send('Target.closeTarget', { targetId: tab.targetId });
    }
    await sleep(500);
    // The regular profile's own records, less the probe windows: the regular
    // page itself asked for the marked file above, which its window records.
    const index = await inWorker(context, async () =>
      JSON.stringify(Object.entries(await chrome.storage.local.get(null)).filter(([key]) => !key.startsWith('probes:'))),
    );
    const state = await storeState(context);
    expect.soft(state.entries, 'regular index').not.toContain(marked.hash);
    expect.soft(index, 'regular index').not.toContain(server.origin('c.test'));
    expect.soft(index, 'regular index').not.toContain(marked.hash);
    // ...and still serves its own files, from what it persisted: incognito changed nothing there.
    await restartWorker(regular);
    const own = await regular.evaluate((hex) => outcome(() => readBack(hex)), files.sameSite);
    expect.soft(own, "regular a.test's own file after the incognito session").toMatchObject({ ok: { hash: files.sameSite } });
  } finally {
    await devtools.close();
    await context.close();
  }
  // ...and nothing incognito stored reached the disk.
  expect.soft(await filesContaining(userDataDir, 'cos-incognito-marker-'), 'profile files holding the marked bytes').toEqual([]);
});

test('one page opening a thousand relays does not open a thousand ports to the worker', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  await a.evaluate(() => storeBytes(patternBytes(100, 99)));
  // Counts the ports the browser hands the worker from now on (a listener of our own, beside the extension's).
  await inWorker(context, () => {
    globalThis.privacyPortsSeen = 0;
    chrome.runtime.onConnect.addListener(() => globalThis.privacyPortsSeen++);
  });
  const replies = await a.evaluate(async () => {
    const relays = Array.from({ length: 1000 }, () => rawChannel());
    const replies = await Promise.all(relays.map((send) => send({ op: 'open', hash: hashOf('ab'.repeat(32)) }, undefined, 10_000)));
    const counts = {};
    for (const r of replies) {
      const key = r.timeout ? 'timeout' : r.ok ? 'ok' : r.error?.name;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  });
  const ports = await inWorker(context, () => globalThis.privacyPortsSeen);
  console.log(`[privacy] 1000 relays: replies ${JSON.stringify(replies)}, new ports to the worker ${ports}`);
  expect(ports, 'the counting worker is still the one running').toEqual(expect.any(Number));
  expect(ports, 'ports opened to the worker').toBeLessThan(10);
});

/** Bytes of every WebAssembly memory in the extension's service worker, as a debugger sees them. */
async function workerWasmBytes(devtools) {
  const target = (await devtools.targets()).find((t) => t.type === 'service_worker' && t.url.endsWith('/extension/sw.js'));
  const worker = await devtools.attach(target.targetId);
  try {
    const { result: prototype } = await worker.send('Runtime.evaluate', { expression: 'WebAssembly.Memory.prototype' });
    const { objects } = await worker.send('Runtime.queryObjects', { prototypeObjectId: prototype.objectId });
    const { result } = await worker.send('Runtime.callFunctionOn', {
      objectId: objects.objectId,
      functionDeclaration: 'function () { return this.reduce((bytes, memory) => bytes + memory.buffer.byteLength, 0); }',
      returnByValue: true,
    });
    return result.value;
  } finally {
    await worker.detach();
  }
}

test('a 10 MB request is refused without growing the worker\'s Wasm memory', async ({ server, userDataDir }) => {
  const context = await launchBrowser(userDataDir, server, { args: [DEBUG_PORT_ARG] });
  const devtools = await browserDevTools(userDataDir);
  try {
    const a = await context.newPage();
    await a.goto(server.origin('a.test') + '/page.html');
    // Warm up: a store, a read and a refused request, so the engine's own allocations are made.
    await a.evaluate(async () => {
      const hex = await storeBytes(patternBytes(100_000, 100));
      await readBack(hex);
      await rawChannel()('{"op":"read"}');
    });
    const before = await workerWasmBytes(devtools);
    const reply = await a.evaluate(async () => {
      const huge = `{"op":"read","hash":{"algorithm":"SHA-256","value":"${'a'.repeat(10_000_000)}"}}`;
      const t0 = performance.now();
      const reply = await rawChannel()(huge, undefined, 10_000);
      return { ...reply, ms: Math.round(performance.now() - t0) };
    });
    const after = await workerWasmBytes(devtools);
    console.log(`[privacy] 10 MB request: ${JSON.stringify(reply)}; worker Wasm memory ${before} -> ${after} bytes`);
    expect(reply.ok, 'the 10 MB request').not.toBe(true);
    expect(after - before, 'Wasm memory growth').toBeLessThan(MiB);
  } finally {
    await devtools.close();
    await context.close();
  }
});

test('a site cannot grow a file\'s record without bound by storing it from many origins', async ({ server, userDataDir }) => {
  test.setTimeout(300_000);
  // Every x<i>.a.test is an origin of its own (same site as a.test).
  const context = await launchBrowser(userDataDir, server, { secure: ['*.a.test'] });
  try {
    const host = await context.newPage();
    await host.goto(server.origin('a.test') + '/page.html');
    const hex = await host.evaluate(() => storeBytes(patternBytes(1000, 101), { origins: '*' }));
    await makePublic(context, [hex]);
    const reader = await context.newPage();
    await reader.goto(server.origin('c.test') + '/page.html');
    const medianReadMs = () =>
      reader.evaluate(async (hex) => {
        const times = [];
        for (let i = 0; i < 21; i++) {
          const t0 = performance.now();
          await readBack(hex);
          times.push(performance.now() - t0);
        }
        return times.sort((x, y) => x - y)[10];
      }, hex);
    // The whole index as stored, whatever its layout.
    const indexBytes = () => inWorker(context, async () => JSON.stringify(await chrome.storage.local.get(null)).length);
    const measured = [{ origins: 1, indexBytes: await indexBytes(), readMs: await medianReadMs() }];
    let stored = 0;
    for (const target of [500, 1000]) {
      while (stored < target) {
        const batch = Array.from({ length: 20 }, (_, i) => stored + i);
        stored += batch.length;
        await host.evaluate(
          ({ batch, port }) => {
            document.body.replaceChildren();
            return Promise.all(
              batch.map((i) => {
                const frame = document.createElement('iframe');
                // Another origin of the site: allowed by the page, as the Permissions Policy asks.
                frame.allow = 'cross-origin-storage';
                frame.src = `http://x${i}.a.test:${port}/page.html`;
                document.body.append(frame);
                return new Promise((r) => (frame.onload = r));
              }),
            );
          },
          { batch, port: server.port },
        );
        const frames = host.frames().filter((f) => f !== host.mainFrame());
        const results = await Promise.all(frames.map((f) => f.evaluate(() => outcome(() => storeBytes(patternBytes(1000, 101), { origins: '*' })))));
        expect(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok))).toBe(true);
      }
      measured.push({ origins: 1 + stored, indexBytes: await indexBytes(), readMs: await medianReadMs() });
    }
    console.log(`[privacy] one file stored from many origins: ${JSON.stringify(measured)}`);
    const [first, half, all] = measured;
    // Bounded: the second 500 origins add (next to) nothing the first 500 did not.
    expect(all.indexBytes - half.indexBytes, 'index growth from the second 500 origins').toBeLessThanOrEqual(
      0.25 * (half.indexBytes - first.indexBytes) + 1000,
    );
    expect(all.readMs, 'median read time').toBeLessThan(3 * first.readMs + 20);
  } finally {
    await context.close();
  }
});

test('a transient file-system error while a file is served does not delete it', async ({ context, openPage }) => {
  const a = await openPage('a.test');
  const hex = await a.evaluate(() => storeBytes(patternBytes(50_000, 102), { origins: '*' }));
  await makePublic(context, [hex]);
  // While `privacyFlaky` is set, the worker's file system fails every access
  // to this file with an error other than NotFoundError, as a busy or flaky
  // disk can. The file itself is intact throughout.
  await inWorker(context, (hex) => {
    const failing = () => Promise.reject(new DOMException('simulated transient I/O error', 'NotReadableError'));
    const { getFileHandle } = FileSystemDirectoryHandle.prototype;
    FileSystemDirectoryHandle.prototype.getFileHandle = function (name, options) {
      return globalThis.privacyFlaky && name === hex ? failing() : getFileHandle.call(this, name, options);
    };
    const { getFile } = FileSystemFileHandle.prototype;
    FileSystemFileHandle.prototype.getFile = function () {
      return globalThis.privacyFlaky && this.name === hex ? failing() : getFile.call(this);
    };
    globalThis.privacyFlaky = true;
  }, hex);
  const read = (page) => page.evaluate((hex) => outcome(() => readBack(hex)), hex);
  const during = await read(a);
  await inWorker(context, () => (globalThis.privacyFlaky = false));
  const b = await openPage('b.test');
  const after = await read(b);
  const state = await storeState(context);
  console.log(`[privacy] read during the fault: ${JSON.stringify(during)}; after: ${JSON.stringify(after)}`);
  expect(during.ok, 'the fault reached the read').toBeUndefined();
  expect(after, 'the file once the fault is over').toMatchObject({ ok: { size: 50_000, hash: hex } });
  expect(Object.keys(state.blobs)).toContain(hex);
});

test('a live File changed during its write is never stored under a hash it does not have', async ({ openPage }) => {
  test.setTimeout(240_000);
  const a = await openPage('a.test');
  const tries = await a.evaluate(async () => {
    const SIZE = 16 << 20;
    const TRIES = 40;
    // From a worker (the only place sync access handles exist): after
    // `delay` ms, flips 4 KiB in the middle of an origin-private file between
    // other bytes and its own for `duration` ms, so that two reads of the file
    // passing there at different moments see different bytes.
    const source = `onmessage = async ({ data: { name, delay, offset, duration } }) => {
      await new Promise((r) => setTimeout(r, delay));
      const handle = await (await navigator.storage.getDirectory()).getFileHandle(name);
      const access = await handle.createSyncAccessHandle();
      const own = new Uint8Array(4096);
      access.read(own, { at: offset });
      const other = new Uint8Array(4096).fill(0xaa);
      for (const end = performance.now() + duration; performance.now() < end; ) {
        access.write(other, { at: offset });
        access.write(own, { at: offset });
      }
      access.close();
      postMessage('done');
    };`;
    const changer = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
    const root = await navigator.storage.getDirectory();
    const out = [];
    for (let i = 0; i < TRIES; i++) {
      const name = `live-${i}`;
      const bytes = patternBytes(SIZE, 110 + i);
      const hex = await sha256Hex(bytes);
      const handle = await root.getFileHandle(name, { create: true });
      const w = await handle.createWritable();
      await w.write(bytes);
      await w.close();
      const file = await handle.getFile();
      const done = new Promise((r) => (changer.onmessage = r));
      const delay = 5 + Math.floor(Math.random() * 60);
      changer.postMessage({ name, delay, offset: SIZE / 2, duration: 400 });
      const write = await outcome(async () => {
        const writable = await (await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true })).createWritable();
        await writable.write(file);
        await writable.close();
      });
      await done;
      const read = await outcome(() => readBack(hex));
      await root.removeEntry(name);
      out.push({ write: write.name ?? 'stored', message: write.message, readHash: read.ok?.hash, hex, delay });
    }
    return out;
  });
  const summary = {};
  for (const t of tries) summary[t.write] = `${(Number.parseInt(summary[t.write]) || 0) + 1}${t.message ? ` (${t.message.slice(0, 40)})` : ''}`;
  const wrong = tries.filter((t) => t.readHash && t.readHash !== t.hex);
  console.log(`[privacy] live File writes: ${JSON.stringify(summary)}; stored under a hash they do not have: ${wrong.length} (changes from ${JSON.stringify(wrong.map((t) => t.delay))} ms)`);
  for (const t of tries) {
    if (t.write === 'stored') expect.soft(t.readHash, 'bytes stored under the declared hash').toBe(t.hex);
    else expect.soft(t.readHash, 'nothing stored after a failed write').toBeUndefined();
  }
});

// Not testable end to end, so not tested (each says why).
test.fixme('concurrent Blob writes cannot make the worker hold memory without bound', () => {
  // 60 concurrent 4 MiB Blob writes from one page (the per-origin session
  // limit is 64) grew the worker's Wasm memory by 4-9 MiB and its JS heap to
  // a ~21 MB peak on today's code: the browser's blob pipes already keep few
  // pumps active at once, so a bound on concurrent pumps makes no difference
  // a test can tell from noise. Review the bound in code.
});

test.fixme("a relay whose send fails does not leave a port behind", () => {
  // The bridge opens a second port when postMessage() on its port throws
  // (the port died before its disconnect event). A page cannot make that
  // happen on purpose, so the leak cannot be driven from outside.
});
