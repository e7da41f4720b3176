// navigator.crossOriginStorage in workers (issue 13): dedicated (classic and
// module), shared, nested, blob: and data: workers, as a page starts them
// (pages/workers/rpc*.js run the functions a test sends, see helpers.js);
// a page's service worker, which the extension cannot reach; the
// interface details libraries check, in windows and workers alike; and a
// 512 MiB file written from a worker the way wllama writes.
import { test, expect } from './fixtures.mjs';
import { makePublic, MiB } from './sw-tools.mjs';
import { patternHash } from '../../scripts/lib/pattern.mjs';
import { idleAfterGcMiB, withPeakMemory } from '../bench/memory.mjs';

/** What a library can check about the interface, from inside the scope it runs in. */
function interfaceDetails() {
  const NavigatorInterface = self.Navigator ?? self.WorkerNavigator;
  const names = ['getFileHandle', 'requestFileHandle', 'requestFileHandles'];
  const thrown = (fn) => {
    try {
      fn();
      return 'nothing';
    } catch (e) {
      return e.constructor.name;
    }
  };
  return {
    length: CrossOriginStorageManager.length,
    enumerable: names.map((n) => Object.getOwnPropertyDescriptor(CrossOriginStorageManager.prototype, n)?.enumerable),
    methods: names.map((n) => typeof navigator.crossOriginStorage[n]),
    methodLengths: names.map((n) => navigator.crossOriginStorage[n].length),
    getterOnPrototype: thrown(() => Object.getOwnPropertyDescriptor(NavigatorInterface.prototype, 'crossOriginStorage').get.call(NavigatorInterface.prototype)),
    constructor: thrown(() => new CrossOriginStorageManager()),
    instance: navigator.crossOriginStorage instanceof CrossOriginStorageManager,
    tag: Object.prototype.toString.call(navigator.crossOriginStorage),
    sameObject: navigator.crossOriginStorage === navigator.crossOriginStorage,
  };
}

test('the interface details are the same in a window and in every kind of worker', async ({ openPage }) => {
  const page = await openPage('a.test');
  const expected = {
    length: 0,
    enumerable: [true, true, true],
    methods: ['function', 'function', 'function'],
    methodLengths: [1, 1, 1],
    getterOnPrototype: 'TypeError',
    constructor: 'TypeError',
    instance: true,
    tag: '[object CrossOriginStorageManager]',
    sameObject: true,
  };
  expect(await page.evaluate(`(${interfaceDetails})()`)).toEqual(expected);
  const inWorkers = await page.evaluate(async (details) => {
    const classic = startWorker();
    const module = startWorker('/workers/rpc-module.js', { type: 'module' });
    const shared = startSharedWorker();
    return {
      classic: await classic.call(details),
      module: await module.call(details),
      shared: await shared.call(details),
      nested: await classic.call((details) => startWorker('rpc.js').call(details), details),
    };
  }, String(interfaceDetails));
  for (const [kind, details] of Object.entries(inWorkers)) expect(details, kind).toEqual(expected);
});

/** The same requests and their outcomes, to compare a window with its workers. */
async function sameRequests() {
  const bytes = patternBytes(3000, 61);
  const value = await sha256Hex(bytes);
  const cos = navigator.crossOriginStorage;
  const created = await cos.getFileHandle(hashOf(value), { create: true });
  const writeWrong = await outcome(async () => {
    const w = await (await cos.getFileHandle(hashOf(value), { create: true })).createWritable();
    await w.write(patternBytes(10, 1));
    await w.close();
  });
  return {
    invalidHash: await outcome(() => cos.getFileHandle(hashOf('xyz'))),
    noAlgorithm: await outcome(() => cos.getFileHandle({ value })),
    badOrigins: await outcome(() => cos.getFileHandle(hashOf(value), { create: true, origins: ['not a url'] })),
    absent: await outcome(() => cos.getFileHandle(hashOf(value))),
    readBeforeWrite: await outcome(() => created.getFile()),
    readOnlyWrite: await outcome(async () => (await cos.getFileHandle(hashOf('e'.repeat(64)), {})).createWritable()),
    writeWrong,
    move: await outcome(() => created.move('x')),
    stored: await outcome(async () => {
      const w = await created.createWritable();
      await w.write(bytes);
      await w.close();
      return (await created.getFile()).size;
    }),
    readBack: await outcome(async () => readBack(value)),
  };
}

test('dedicated workers, classic and module, get the same answers as their window', async ({ context, server }) => {
  // One profile, three fresh origins (a.test, sub.a.test and c.test never stored anything).
  const run = async (host, where) => {
    const page = await context.newPage();
    await page.goto(`${server.origin(host)}/page.html`);
    return page.evaluate(
      async ([where, fn]) => {
        if (where === 'window') return (0, eval)(`(${fn})`)();
        const worker = where === 'module' ? startWorker('/workers/rpc-module.js', { type: 'module' }) : startWorker();
        return worker.call(fn);
      },
      [where, String(sameRequests)],
    );
  };
  const inWindow = await run('a.test', 'window');
  expect(inWindow.stored).toEqual({ ok: 3000 });
  expect(inWindow.invalidHash.name).toBe('TypeError');
  // The file was stored by a.test: the other origins' first lookups are misses too.
  expect(await run('c.test', 'classic')).toEqual({ ...inWindow });
  expect(await run('b.test', 'module')).toEqual({ ...inWindow });
});

test('a worker runs its real script: location, relative imports and fetches follow its URL, name and type kept', async ({ openPage, server }) => {
  const page = await openPage('a.test');
  const origin = server.origin('a.test');
  const seen = await page.evaluate(async () => {
    const facts = () => ({ href: location.href, pathname: location.pathname, origin: self.origin, name: self.name, base: new URL('x', location).href });
    const classic = startWorker('/workers/rpc.js', { name: 'classic one' });
    const module = startWorker('/workers/rpc-module.js', { type: 'module', name: 'module one' });
    return {
      classic: await classic.call(facts),
      module: await module.call(facts),
      moduleIsModule: await module.call(() => typeof importScripts === 'function' && (() => { try { importScripts(); return false; } catch { return true; } })()),
      relativeFetch: await classic.call(async () => (await fetch('../page.html')).status),
      relativeXhr: await classic.call(() => { const x = new XMLHttpRequest(); x.open('GET', 'rpc.js', false); x.send(); return x.status; }),
      nested: await classic.call(() => startWorker('rpc.js').call(() => location.href)),
    };
  });
  expect(seen.classic).toEqual({ href: `${origin}/workers/rpc.js`, pathname: '/workers/rpc.js', origin, name: 'classic one', base: `${origin}/workers/x` });
  expect(seen.module).toEqual({ href: `${origin}/workers/rpc-module.js`, pathname: '/workers/rpc-module.js', origin, name: 'module one', base: `${origin}/workers/x` });
  expect(seen.moduleIsModule).toBe(true);
  expect(seen.relativeFetch).toBe(200);
  expect(seen.relativeXhr).toBe(200);
  expect(seen.nested).toBe(`${origin}/workers/rpc.js`);
});

test("a worker's files are its creating frame's: blob: and nested workers inherit it, other frames and sites do not see them", async ({ openPage, server }) => {
  const a = await openPage('a.test');
  const stored = await a.evaluate(async (bOrigin) => {
    // A blob: worker whose URL the page revokes at once, as bundlers do.
    const source = `${await (await fetch('/helpers.js')).text()}\nserveCalls(self);`;
    const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const blobWorker = startWorker(url);
    URL.revokeObjectURL(url);
    const fromBlob = await blobWorker.call(() => storeBytes(patternBytes(4000, 71)));
    // (A blob: URL is no base for relative URLs, in any browser.)
    const nestedRead = await blobWorker.call(([v, rpc]) => startWorker(rpc).call((v) => readBack(v), v), [fromBlob, `${location.origin}/workers/rpc.js`]);
    // A worker of a cross-origin frame (allowed to use the API) stores as that frame's origin.
    const frame = document.createElement('iframe');
    frame.allow = 'cross-origin-storage';
    frame.src = `${bOrigin}/page.html`;
    document.body.append(frame);
    await new Promise((resolve) => (frame.onload = resolve));
    return { fromBlob, nestedRead };
  }, server.origin('b.test'));
  expect(stored.nestedRead).toMatchObject({ size: 4000, hash: stored.fromBlob });
  const frame = a.frames().find((f) => f.url().startsWith(server.origin('b.test')));
  const fromFrame = await frame.evaluate(() => startWorker().call(() => storeBytes(patternBytes(4000, 72))));

  const read = async (page, value) => page.evaluate((v) => outcome(() => readBack(v)), value);
  expect((await read(await openPage('sub.a.test'), stored.fromBlob)).ok?.hash, 'same site as the creator').toBe(stored.fromBlob);
  expect(await read(await openPage('c.test'), stored.fromBlob)).toMatchObject({ name: 'NotFoundError' });
  expect(await read(a, fromFrame), "the top page does not see its frame's worker's file").toMatchObject({ name: 'NotFoundError' });
  expect((await read(await openPage('b.test'), fromFrame)).ok?.hash).toBe(fromFrame);

  // A worker cannot open a channel of its own: the connect message it posts
  // reaches its creator as a worker message, which nobody relays.
  const borrowed = await a.evaluate(() =>
    startWorker().call(
      () =>
        new Promise((resolve) => {
          const { port1, port2 } = new MessageChannel();
          postMessage({ type: 'cross-origin-storage:connect' }, [port2]);
          port1.onmessage = ({ data }) => resolve(data);
          port1.postMessage({ id: 1, request: { op: 'open', hash: hashOf('0'.repeat(64)), create: false } });
          setTimeout(() => resolve('no reply'), 1500);
        }),
    ),
  );
  expect(borrowed).toBe('no reply');
});

test('a shared worker serves two tabs, is one worker for both, and outlives the first', async ({ context, server }) => {
  const open = async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin('a.test')}/page.html`);
    await page.evaluate(() => (window.shared = startSharedWorker()));
    return page;
  };
  const first = await open();
  const value = await first.evaluate(() => shared.call(() => storeBytes(patternBytes(6000, 81))));
  const second = await open();
  expect(await second.evaluate(() => shared.call(() => connections)), 'both tabs reach one instance').toBe(2);
  expect((await second.evaluate((v) => shared.call((v) => readBack(v), v), value)).hash).toBe(value);
  await first.close();
  // The first tab relayed the worker's requests; now the second does.
  const after = await second.evaluate(
    (v) => shared.call(async (v) => ({ read: await outcome(() => readBack(v)), write: await outcome(() => storeBytes(patternBytes(6000, 82))) }), v),
    value,
  );
  expect(after.read.ok?.hash, JSON.stringify(after.read)).toBe(value);
  expect(after.write.ok).toMatch(/^[0-9a-f]{64}$/);
  const third = await open();
  expect(await third.evaluate(() => shared.call(() => connections)), 'a new tab finds the same worker').toBe(3);
  expect((await third.evaluate((v) => window.readBack(v), after.write.ok)).hash).toBe(after.write.ok);
  // With every tab gone the worker ends, and the bootstrap URL the first tab recorded is revoked:
  // the next tab starts a new worker (from a new URL), unaware of it.
  await second.close();
  await third.close();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const fourth = await open();
  const restarted = await fourth.evaluate((v) => shared.call(async (v) => ({ connections, read: (await readBack(v)).hash }), v), value);
  expect(restarted).toEqual({ connections: 1, read: value });
});

test('a channel the bridge closes (it keeps 32 per frame; workers each have one) is reopened by the next request', async ({ openPage }) => {
  const page = await openPage('a.test');
  const result = await page.evaluate(async () => {
    const value = await storeBytes(patternBytes(1000, 111));
    const worker = startWorker();
    await worker.call((v) => readBack(v), value);
    // 32 more channels in this frame: the window's and the worker's, the oldest, are closed.
    for (let i = 0; i < 32; i++) rawChannel();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const inTime = (promise) => Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve({ timeout: true }), 5000))]);
    return {
      window: await inTime(outcome(() => readBack(value).then((r) => r.size))),
      worker: await inTime(worker.call((v) => outcome(() => readBack(v).then((r) => r.size)), value)),
    };
  });
  expect(result).toEqual({ window: { ok: 1000 }, worker: { ok: 1000 } });
});

test('a data: worker (opaque origin) has the API and every call is refused with NotAllowedError at once', async ({ openPage }) => {
  const page = await openPage('a.test');
  const result = await page.evaluate(async () => {
    const source = `
      const t0 = performance.now();
      navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: 'a'.repeat(64) }, { create: true }).then(
        () => postMessage({ outcome: 'resolved' }),
        (e) => postMessage({ api: typeof navigator.crossOriginStorage, origin: self.origin, outcome: e.name, ms: performance.now() - t0 }),
      );`;
    const worker = new Worker(`data:text/javascript,${encodeURIComponent(source)}`);
    return new Promise((resolve) => {
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (e) => resolve({ error: e.message });
    });
  });
  expect(result).toMatchObject({ api: 'object', origin: 'null', outcome: 'NotAllowedError' });
  expect(result.ms).toBeLessThan(100);
});

test("a page's service worker gets no API (no extension code reaches it) and cannot borrow its page's channel", async ({ openPage }) => {
  const page = await openPage('a.test');
  const report = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.register('/workers/sw.js');
    const worker = registration.installing ?? registration.waiting ?? registration.active;
    while (worker.state !== 'activated') await new Promise((resolve) => worker.addEventListener('statechange', resolve, { once: true }));
    const reply = new Promise((resolve) => navigator.serviceWorker.addEventListener('message', ({ data }) => data?.report && resolve(data.report)));
    worker.postMessage('report');
    return reply;
  });
  expect(report).toEqual({ api: false, manager: 'undefined', fetch: 'TypeError', channel: 'no reply' });
});

test('a document with a Content-Security-Policy keeps its workers as they are, without the API', async ({ openPage }) => {
  // The extension cannot read the policy, and a blob: bootstrap it forbids would break the page.
  const csp = encodeURIComponent("worker-src 'self'; script-src 'self' 'unsafe-eval'");
  const page = await openPage('a.test', `/page.html?csp=${csp}`);
  const seen = await page.evaluate(async () => ({
    window: typeof navigator.crossOriginStorage,
    worker: await startWorker().call(() => ({ api: typeof navigator.crossOriginStorage, href: location.href })),
  }));
  expect(seen.window).toBe('object');
  expect(seen.worker.api).toBe('undefined');
  expect(seen.worker.href).toMatch(/\/workers\/rpc\.js$/);
});

test("a blob: worker cannot escape its creator's Permissions-Policy: cross-origin-storage=(), nor a worker of an allowed page its refusal", async ({ openPage }) => {
  // A worker's channel is one of its frame's: the engine refuses it as it refuses the frame.
  const probe = async (page) =>
    page.evaluate(async () => {
      const url = URL.createObjectURL(new Blob([`${await (await fetch('/helpers.js')).text()}\nserveCalls(self);`], { type: 'text/javascript' }));
      const blobWorker = startWorker(url);
      const request = () => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf('xyz')));
      return {
        window: (await request()).name,
        blobWorker: (await blobWorker.call(request)).name,
        nested: (await blobWorker.call(async (rpc) => (await startWorker(rpc).call(() => outcome(() => navigator.crossOriginStorage.getFileHandle(hashOf('xyz'))))).name, `${location.origin}/workers/rpc.js`)),
        shared: (await startSharedWorker().call(request)).name,
      };
    });
  const blocked = await openPage('a.test', `/page.html?pp=${encodeURIComponent('cross-origin-storage=()')}`);
  expect(await probe(blocked)).toEqual({ window: 'NotAllowedError', blobWorker: 'NotAllowedError', nested: 'NotAllowedError', shared: 'NotAllowedError' });
  // The same requests from an allowed page are validated (an invalid hash: TypeError).
  expect(await probe(await openPage('c.test'))).toEqual({ window: 'TypeError', blobWorker: 'TypeError', nested: 'TypeError', shared: 'TypeError' });
});

/**
 * wllama's cos.ts, run where `where` says (the page's window, or its worker `writer`): getFileHandle
 * only, each network chunk written as it arrives, close() in a finally. With `opfs`, the same loop
 * into the page's own OPFS instead: what the same bytes cost without the extension.
 */
async function writeLikeWllama(where, [hex, size, seed, opfs = false]) {
  const job = async ([hex, size, seed, opfs]) => {
    const t0 = performance.now();
    const handle = opfs
      ? await (await navigator.storage.getDirectory()).getFileHandle(hex, { create: true })
      : await navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: hex }, { create: true, origins: '*' });
    const writable = await handle.createWritable();
    const reader = (await fetch(`/bytes?size=${size}&seed=${seed}`)).body.getReader();
    let writes = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await writable.write(value);
        writes++;
      }
    } finally {
      await writable.close();
    }
    return { ms: performance.now() - t0, writes };
  };
  return where === 'window' ? job([hex, size, seed, opfs]) : writer.call(job, [hex, size, seed, opfs]);
}

test("512 MiB written from a worker the way wllama writes, read byte for byte from another site's worker, memory flat", async ({
  context,
  openPage,
}) => {
  test.setTimeout(600_000);
  const size = 512 * MiB;
  const a = await openPage('a.test');
  await a.evaluate(() => (window.writer = startWorker()).started);
  /** Writes `seed`'s bytes from `where`, returning time, write() calls and the browser's extra memory. */
  const store = async (where, seed, opfs = false) => {
    const idle = await idleAfterGcMiB(a);
    const args = [patternHash(size, seed), size, seed, opfs];
    const { result, peakMiB } = await withPeakMemory(() => a.evaluate(`(${writeLikeWllama})(${JSON.stringify(where)}, ${JSON.stringify(args)})`));
    return { MBps: Math.round(size / 1e3 / result.ms), writes: result.writes, extraMiB: Math.round(peakMiB - idle) };
  };
  const fromWorker = await store('worker', 91);
  // The same from the window, for comparison: the worker's bytes take one more hop (to its document).
  const fromWindow = await store('window', 92);
  const workerIntoOwnOPFS = await store('worker', 93, true);

  const hex = patternHash(size, 91);
  await makePublic(context, [hex]);
  const b = await openPage('b.test');
  await b.evaluate(() => (window.reader = startWorker()).started);
  const readIdle = await idleAfterGcMiB(b);
  const read = await withPeakMemory(() =>
    b.evaluate(
      ([hex, seed]) =>
        reader.call(
          async ([hex, seed]) => {
            const t0 = performance.now();
            const file = await (await navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: hex })).getFile();
            const expected = patternBytes(256, seed);
            let offset = 0;
            // Held by the worker: Chromium collects a Blob stream nothing refers to, its pending read
            // included, and the read never ends (tests/bench/bench-page.js, `reading`).
            self.reading = file.stream();
            for await (const chunk of self.reading) {
              for (let i = 0; i < chunk.length; i++) {
                if (chunk[i] !== expected[(offset + i) & 255]) return { error: `byte ${offset + i} differs` };
              }
              offset += chunk.length;
            }
            return { size: file.size, read: offset, ms: performance.now() - t0 };
          },
          [hex, seed],
        ),
      [hex, 91],
    ),
  );
  const report = {
    MiB: size / MiB,
    fromWorker,
    fromWindow,
    workerIntoOwnOPFS,
    readInWorker: { MBps: Math.round(size / 1e3 / read.result.ms), extraMiB: Math.round(read.peakMiB - readIdle) },
  };
  console.log(`workers: ${JSON.stringify(report)}`);
  test.info().annotations.push({ type: 'measurement', description: JSON.stringify(report) });
  expect(read.result).toEqual({ size, read: size, ms: read.result.ms });
  // Streaming costs a few 4 MiB batches plus the garbage of the page's own fetch and stream chunks,
  // which renderers collect lazily (compare workerIntoOwnOPFS: the same loop without the extension).
  // Holding the file anywhere would add its whole size to that.
  expect(fromWorker.extraMiB, 'extra browser memory while a worker stores 512 MiB').toBeLessThan((size / MiB) * 0.75);
  expect(report.readInWorker.extraMiB, 'extra browser memory while a worker reads 512 MiB').toBeLessThan((size / MiB) * 0.75);
});
