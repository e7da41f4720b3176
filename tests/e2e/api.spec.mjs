// The public API as a web app uses it, across three origins:
// a.test and sub.a.test are same-site; b.test and c.test are other sites.
import { test, expect } from './fixtures.mjs';
import { pagePath } from './server.mjs';
import { admin } from './sw-tools.mjs';

const hashOf = (value) => ({ algorithm: 'SHA-256', value });
/**
 * Files other sites read through the global grant are larger than GREASE's
 * limit (500 KiB), which refuses ~1% of smaller ones at random.
 */
const LARGE = 600_000;

test('the API exists from document_start on secure pages only', async ({ openPage }) => {
  const a = await openPage('a.test', '/early.html');
  expect(await a.evaluate(() => window.seenAtStart)).toBe(true);
  expect(await a.evaluate(() => navigator.crossOriginStorage instanceof CrossOriginStorageManager)).toBe(true);
  expect(await a.evaluate(() => outcome(() => new CrossOriginStorageManager()))).toMatchObject({ name: 'TypeError' });
  const insecure = await openPage('insecure.test', '/early.html');
  expect(await insecure.evaluate(() => isSecureContext)).toBe(false);
  expect(await insecure.evaluate(() => window.seenAtStart)).toBe(false);
  expect(await insecure.evaluate(() => 'crossOriginStorage' in navigator)).toBe(false);
});

test('same-site visibility: the storer and its site read, other sites get NotFoundError', async ({ openPage }) => {
  const a = await openPage('a.test');
  const hex = await a.evaluate(() => storeBytes(patternBytes(5000, 1)));
  for (const host of ['a.test', 'sub.a.test']) {
    const page = host === 'a.test' ? a : await openPage(host);
    expect((await page.evaluate((v) => outcome(() => readBack(v)), hex)).ok).toEqual({ size: 5000, hash: hex, name: hex });
  }
  const b = await openPage('b.test');
  expect(await b.evaluate((v) => outcome(() => readBack(v)), hex)).toMatchObject({ name: 'NotFoundError' });
});

test('listed visibility: listed origins read, others do not', async ({ openPage, server }) => {
  // The list is within what the page's Cross-Origin-Storage-Allow-Origin header authorizes.
  const a = await openPage('a.test', pagePath({ ao: server.origin('b.test') }));
  const hex = await a.evaluate((b) => storeBytes(patternBytes(3000, 2), { origins: [b + '/any/path'] }), server.origin('b.test'));
  const b = await openPage('b.test');
  expect((await b.evaluate((v) => outcome(() => readBack(v)), hex)).ok?.hash).toBe(hex);
  const c = await openPage('c.test');
  expect(await c.evaluate((v) => outcome(() => readBack(v)), hex)).toMatchObject({ name: 'NotFoundError' });
});

test('global visibility with each API name, including the legacy plural', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  const [h1, h2] = await a.evaluate(async (size) => {
    const one = await storeBytes(patternBytes(size, 3), { origins: '*' });
    // requestFileHandle (Transformers.js 4.3) for the second write.
    const bytes = patternBytes(size + 100, 4);
    const value = await sha256Hex(bytes);
    const handle = await navigator.crossOriginStorage.requestFileHandle(hashOf(value), { create: true, origins: '*' });
    const w = await handle.createWritable();
    await w.write(bytes);
    await w.close();
    return [one, value];
  }, LARGE);
  // Global files reach other sites only if they are on the Public Hash List.
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [h1, h2] });
  const c = await openPage('c.test');
  const got = await c.evaluate(async ([h1, h2]) => {
    const cos = navigator.crossOriginStorage;
    const viaGet = await (await cos.getFileHandle(hashOf(h1))).getFile();
    const viaRequest = await (await cos.requestFileHandle(hashOf(h2))).getFile();
    const plural = await cos.requestFileHandles([hashOf(h1), hashOf(h2)]);
    const sizes = await Promise.all(plural.map(async (h) => (await h.getFile()).size));
    const missing = await outcome(() => cos.requestFileHandles([hashOf(h1), hashOf('0'.repeat(64))]));
    return { get: viaGet.size, request: viaRequest.size, plural: sizes, names: plural.map((h) => h.name), missing };
  }, [h1, h2]);
  expect(got).toMatchObject({ get: LARGE, request: LARGE + 100, plural: [LARGE, LARGE + 100], names: [h1, h2], missing: { name: 'NotFoundError' } });
});

test('legacy plural create path stores every file', async ({ openPage }) => {
  const a = await openPage('a.test');
  const ok = await a.evaluate(async () => {
    const files = [patternBytes(10, 5), patternBytes(20, 6)];
    const values = await Promise.all(files.map(sha256Hex));
    const handles = await navigator.crossOriginStorage.requestFileHandles(values.map(hashOf), { create: true });
    for (const [i, h] of handles.entries()) {
      const w = await h.createWritable();
      await w.write(files[i]);
      await w.close();
    }
    return Promise.all(values.map(async (v) => (await readBack(v)).hash === v));
  });
  expect(ok).toEqual([true, true]);
});

test('validation: TypeError with a useful message, and nothing is stored', async ({ openPage, server }) => {
  const a = await openPage('a.test');
  const results = await a.evaluate(async () => {
    const cos = navigator.crossOriginStorage;
    const good = await sha256Hex(new Uint8Array([1]));
    const cases = {
      uppercase: [{ algorithm: 'SHA-256', value: good.toUpperCase() }],
      short: [{ algorithm: 'SHA-256', value: good.slice(1) }],
      long: [{ algorithm: 'SHA-256', value: good + '0' }],
      nonHex: [{ algorithm: 'SHA-256', value: good.slice(1) + 'z' }],
      md5: [{ algorithm: 'md5', value: good }],
      missingValue: [{ algorithm: 'SHA-256' }],
      notAnObject: ['abc'],
      dataOrigin: [hashOf(good), { create: true, origins: ['data:,hello'] }],
      starInList: [hashOf(good), { create: true, origins: ['*'] }],
      tooMany: [hashOf(good), { create: true, origins: Array.from({ length: 65 }, (_, i) => `https://o${i}.test`) }],
      sha512: [{ algorithm: 'SHA-512', value: good }],
    };
    const out = {};
    for (const [name, args] of Object.entries(cases)) out[name] = await outcome(() => cos.getFileHandle(...args));
    out.lowercaseAlgorithm = await outcome(async () => (await cos.getFileHandle({ algorithm: 'sha-256', value: good }, { create: true })).name);
    return out;
  });
  for (const name of ['uppercase', 'short', 'long', 'nonHex', 'md5', 'missingValue', 'notAnObject', 'dataOrigin', 'starInList', 'tooMany']) {
    expect(results[name].name, name).toBe('TypeError');
    expect(results[name].message.length, name).toBeGreaterThan(10);
  }
  expect(results.uppercase.message).toContain('uppercase');
  expect(results.md5.message).toContain('md5');
  expect(results.dataOrigin.message).toContain('origins[0]');
  expect(results.tooMany.message).toContain('at most 64');
  expect(results.sha512.name).toBe('NotSupportedError');
  expect(results.lowercaseAlgorithm.ok).toHaveLength(64);
});

test('integrity: wrong bytes or no bytes reject with DataError and store nothing', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const right = patternBytes(1000, 7);
    const value = await sha256Hex(right);
    const wrong = patternBytes(1000, 8);
    const mismatch = await outcome(() => storeBytes(wrong, { origins: '*' }, value));
    const empty = await outcome(async () => {
      const h = await navigator.crossOriginStorage.getFileHandle(hashOf(value), { create: true });
      await (await h.createWritable()).close();
    });
    const afterwards = await outcome(() => readBack(value));
    return { mismatch, empty, afterwards };
  });
  expect(got.mismatch.name).toBe('DataError');
  expect(got.mismatch.message).toContain('nothing was stored');
  expect(got.empty.name).toBe('DataError');
  expect(got.afterwards.name).toBe('NotFoundError');
});

test('handles: write-only create handles, read-only read handles, no move/remove', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const cos = navigator.crossOriginStorage;
    const bytes = patternBytes(64, 9);
    const value = await sha256Hex(bytes);
    const create = await cos.getFileHandle(hashOf(value), { create: true });
    const before = await outcome(() => create.getFile());
    const w = await create.createWritable();
    await w.write(bytes);
    await w.close();
    const after = await outcome(async () => (await create.getFile()).size);
    const read = await cos.getFileHandle(hashOf(value));
    return {
      kind: read.kind,
      name: read.name,
      isHandle: read instanceof FileSystemFileHandle,
      same: await read.isSameEntry(create),
      before,
      after,
      readWritable: await outcome(() => read.createWritable()),
      move: await outcome(() => read.move('x')),
      remove: await outcome(() => read.remove()),
      permission: await read.queryPermission({ mode: 'read' }),
      stillThere: (await readBack(value)).size,
    };
  });
  expect(got).toMatchObject({
    kind: 'file',
    isHandle: true,
    same: true,
    before: { name: 'NotAllowedError' },
    after: { ok: 64 },
    readWritable: { name: 'NotAllowedError' },
    move: { name: 'NotAllowedError' },
    remove: { name: 'NotAllowedError' },
    permission: 'granted',
    stillThere: 64,
  });
  expect(got.name).toHaveLength(64);
});

test('create does not reveal or touch stored files of other sites', async ({ openPage }) => {
  const a = await openPage('a.test');
  const hex = await a.evaluate(() => storeBytes(patternBytes(50, 10)));
  const b = await openPage('b.test');
  const got = await b.evaluate(async (v) => {
    const h = await navigator.crossOriginStorage.getFileHandle(hashOf(v), { create: true });
    return { getFile: await outcome(() => h.getFile()), read: await outcome(() => readBack(v)) };
  }, hex);
  expect(got.getFile.name).toBe('NotAllowedError');
  expect(got.read.name).toBe('NotFoundError');
});

test('writes: strings, Blobs, positions, seek, truncate and pipeTo all verify the final bytes', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const cos = navigator.crossOriginStorage;
    async function writeWith(expected, steps) {
      const value = await sha256Hex(new TextEncoder().encode(expected));
      const w = await (await cos.getFileHandle(hashOf(value), { create: true })).createWritable();
      await steps(w);
      await w.close();
      const file = await (await cos.getFileHandle(hashOf(value))).getFile();
      return await file.text();
    }
    return {
      mixed: await writeWith('hello world!', async (w) => {
        await w.write('hello');
        await w.write(new Blob([' wor']));
        await w.write(new TextEncoder().encode('ld!').buffer);
      }),
      positioned: await writeWith('hallo', async (w) => {
        await w.write('hello');
        await w.write({ type: 'write', position: 1, data: 'a' });
      }),
      seekTruncate: await writeWith('abXY', async (w) => {
        await w.write('abcdef');
        await w.truncate(2);
        await w.write('XY');
      }),
      seek: await writeWith('xyz', async (w) => {
        await w.write('xbz');
        await w.seek(1);
        await w.write('y');
      }),
      badChunk: await outcome(() => writeWith('a', (w) => w.write(42))),
      missingData: await outcome(() => writeWith('a', (w) => w.write({ type: 'write' }))),
    };
  });
  expect(got).toMatchObject({
    mixed: 'hello world!',
    positioned: 'hallo',
    seekTruncate: 'abXY',
    seek: 'xyz',
    badChunk: { name: 'TypeError' },
    missingData: { name: 'SyntaxError' },
  });
});

test('response.body.pipeTo(writable) stores a streamed download', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const size = 3 * 1024 * 1024 + 17;
    const value = await sha256Hex(await (await fetch(`/bytes?size=${size}&seed=11`)).arrayBuffer());
    const handle = await navigator.crossOriginStorage.getFileHandle(hashOf(value), { create: true, origins: '*' });
    const response = await fetch(`/bytes?size=${size}&seed=11`);
    await response.body.pipeTo(await handle.createWritable());
    const wrong = await fetch(`/bytes?size=${size}&seed=12`);
    const other = await navigator.crossOriginStorage.getFileHandle(hashOf(value.replace(/^./, (c) => (c === '0' ? '1' : '0'))), { create: true });
    const mismatch = await outcome(async () => wrong.body.pipeTo(await other.createWritable()));
    return { read: await readBack(value), value, mismatch };
  });
  expect(got.read).toMatchObject({ size: 3 * 1024 * 1024 + 17, hash: got.value });
  expect(got.mismatch.name).toBe('DataError');
});

test('visibility widens only through a verified write and never narrows', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  const hex = await a.evaluate((size) => storeBytes(patternBytes(size, 13)), LARGE);
  // On the Public Hash List, so that a global grant would disclose it.
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [hex] });
  const c = await openPage('c.test');
  const readFromC = () => c.evaluate((v) => outcome(() => readBack(v)), hex);
  expect((await readFromC()).name).toBe('NotFoundError');

  // b.test asks for global visibility but cannot supply the bytes: nothing changes.
  const b = await openPage('b.test');
  const forgedWiden = await b.evaluate((v) => outcome(() => storeBytes(new Uint8Array([1, 2, 3]), { origins: '*' }, v)), hex);
  expect(forgedWiden.name).toBe('DataError');
  expect((await readFromC()).name).toBe('NotFoundError');

  // With the right bytes, any origin may widen.
  await b.evaluate((size) => storeBytes(patternBytes(size, 13), { origins: '*' }), LARGE);
  expect((await readFromC()).ok?.hash).toBe(hex);

  // A later same-site-only write does not narrow, and says nothing about it:
  // what it could say would describe the entry, which a writer may not see.
  const warnings = [];
  a.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  await a.evaluate((size) => storeBytes(patternBytes(size, 13)), LARGE);
  expect((await readFromC()).ok?.hash).toBe(hex);
  expect(warnings).toEqual([]);
});

test('a file is not readable while its only write is in flight', async ({ openPage }) => {
  const a = await openPage('a.test');
  const got = await a.evaluate(async () => {
    const bytes = patternBytes(2048, 14);
    const value = await sha256Hex(bytes);
    const w = await (await navigator.crossOriginStorage.getFileHandle(hashOf(value), { create: true })).createWritable();
    await w.write({ type: 'write', position: 0, data: bytes.slice(0, 1024) });
    const during = await outcome(() => readBack(value));
    await w.write(bytes.slice(1024));
    await w.close();
    return { during, after: await outcome(() => readBack(value)) };
  });
  expect(got.during.name).toBe('NotFoundError');
  expect(got.after.ok.size).toBe(2048);
});

test('missing and hidden files are indistinguishable', async ({ openPage }) => {
  const a = await openPage('a.test');
  const hex = await a.evaluate(() => storeBytes(patternBytes(99, 15)));
  const b = await openPage('b.test');
  const [hidden, missing] = await b.evaluate(
    (v) => Promise.all([outcome(() => readBack(v)), outcome(() => readBack('ab'.repeat(32)))]),
    hex,
  );
  expect(hidden).toEqual(missing);
  expect(hidden.name).toBe('NotFoundError');
});
