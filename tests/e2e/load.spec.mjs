// Load: many tabs of several origins writing the same large file at once
// while others read it, and hundreds of small concurrent reads and writes.
// Nothing may be lost, duplicated or seen half-written. Throughput is printed.
// COS_LONG=1 scales both up (256 MiB shared file, 2,000 small operations).
import { test, expect } from './fixtures.mjs';
import { patternHash } from '../../scripts/lib/pattern.mjs';
import { MiB, admin, makePublic, storeState } from './sw-tools.mjs';

const LONG = process.env.COS_LONG === '1';

test.describe.configure({ mode: 'parallel' });

/** Errors a well-behaved page may see under contention; anything else is a failure. */
const CLEAN_ERRORS = ['InvalidStateError', 'QuotaExceededError'];

test('2 origins x 4 tabs write the same large file at once: one entry, clean outcomes, readers never see partial data', async ({
  context,
  serviceWorker,
  openPage,
}) => {
  test.setTimeout(LONG ? 600_000 : 180_000);
  const size = (LONG ? 256 : 64) * MiB;
  const seed = 9;
  const hex = patternHash(size, seed);
  // Public (the readers are other sites), as a shared model is.
  await makePublic(context, [hex]);
  const writers = [];
  for (const host of ['a.test', 'b.test']) for (let i = 0; i < 4; i++) writers.push(await openPage(host));
  const readers = [await openPage('c.test'), await openPage('sub.a.test')];

  // Readers poll until told to stop; every read that succeeds must be the whole file.
  for (const r of readers) {
    await r.evaluate(({ hex }) => {
      window.stop = false;
      window.reads = { notFound: 0, whole: 0, wrong: [], otherErrors: [] };
      window.polling = (async () => {
        while (!window.stop) {
          const got = await outcome(() => readBack(hex));
          if (got.ok) {
            if (got.ok.hash === hex) window.reads.whole++;
            else window.reads.wrong.push(got.ok);
          } else if (got.name === 'NotFoundError') window.reads.notFound++;
          else window.reads.otherErrors.push(got);
          await new Promise((res) => setTimeout(res, 20));
        }
        return window.reads;
      })();
    }, { hex });
  }

  const t0 = Date.now();
  const outcomes = await Promise.all(
    writers.map((page) =>
      page.evaluate(
        async ({ hex, size, seed }) => {
          const t = performance.now();
          const result = await outcome(async () => {
            const handle = await navigator.crossOriginStorage.getFileHandle(hashOf(hex), { create: true, origins: '*' });
            const response = await fetch(`/bytes?size=${size}&seed=${seed}`);
            await response.body.pipeTo(await handle.createWritable());
            return (await handle.getFile()).size;
          });
          return { ...result, ms: Math.round(performance.now() - t) };
        },
        { hex, size, seed },
      ),
    ),
  );
  const seconds = (Date.now() - t0) / 1000;
  // Let the readers see the committed file at least once, then stop them.
  await readers[0].waitForFunction(() => window.reads.whole > 0, null, { timeout: 60_000 });
  const reads = await Promise.all(readers.map((r) => r.evaluate(async () => ((window.stop = true), await window.polling))));

  const ok = outcomes.filter((o) => 'ok' in o).length;
  console.log(
    `[load] 8 writers x ${size / MiB} MiB of one file: ${ok} succeeded, ${8 - ok} clean errors in ${seconds.toFixed(1)} s ` +
      `(${((8 * size) / MiB / seconds).toFixed(0)} MiB/s offered); per writer ms: ${outcomes.map((o) => o.ms).join(', ')}`,
  );
  console.log(`[load] readers: ${reads.map((r) => `${r.notFound} not-found, ${r.whole} whole, ${r.wrong.length} wrong`).join(' | ')}`);
  for (const o of outcomes) {
    if ('ok' in o) expect(o.ok, 'a successful writer reads the whole file').toBe(size);
    else expect(CLEAN_ERRORS, `writer error ${o.name}: ${o.message}`).toContain(o.name);
  }
  expect(ok, 'at least one writer succeeds').toBeGreaterThan(0);
  for (const r of reads) {
    expect(r.wrong, 'reads that returned other bytes').toEqual([]);
    expect(r.otherErrors, 'reads that failed otherwise').toEqual([]);
  }
  const state = await storeState(context);
  expect(state.entries, 'exactly one entry').toEqual([hex]);
  expect(state.blobs).toEqual({ [hex]: size });
  expect(state.tmp, 'no temporary file left').toEqual({});
  const summary = await admin(context, serviceWorker, { op: 'summary' });
  const storers = summary.entries[0].storers.map((o) => new URL(o).hostname).sort();
  expect(new Set(storers), 'both origins are storers').toEqual(new Set(['a.test', 'b.test']));
});

test('200 concurrent small reads and writes across origins: no lost response, no unhandled rejection', async ({ context, openPage }) => {
  test.setTimeout(LONG ? 600_000 : 120_000);
  const total = LONG ? 2000 : 200;
  const hosts = ['a.test', 'sub.a.test', 'b.test', 'c.test'];
  const pages = [];
  for (const host of hosts) {
    const page = await openPage(host);
    await page.evaluate(() => {
      window.unhandled = 0;
      addEventListener('unhandledrejection', () => window.unhandled++);
    });
    pages.push(page);
  }
  // Files everyone may read: global and public, above GREASE's size limit, and
  // no more than a site may look up between two gestures (16).
  const shared = await pages[0].evaluate(() =>
    Promise.all(Array.from({ length: 12 }, (_, i) => storeBytes(patternBytes(512_001 + i * 997, 200 + i), { origins: '*' }))),
  );
  await makePublic(context, shared);

  const perPage = total / pages.length;
  const t0 = Date.now();
  const results = await Promise.all(
    pages.map((page, p) =>
      page.evaluate(
        async ({ p, perPage, shared }) => {
          const TIMEOUT = 60_000;
          const lost = Symbol('lost');
          const withTimeout = (promise) => Promise.race([promise, new Promise((r) => setTimeout(() => r(lost), TIMEOUT))]);
          // An origin may hold 64 open writables; with more writes than that per page (COS_LONG), queue them.
          let writing = 0;
          const queue = [];
          const slot = async () => {
            while (writing >= 48) await new Promise((r) => queue.push(r));
            writing++;
          };
          const release = () => {
            writing--;
            queue.shift()?.();
          };
          const ops = Array.from({ length: perPage }, async (_, i) => {
            const t = performance.now();
            let kind;
            let bytes = 0;
            const run = async () => {
              if (i % 2 === 1) {
                kind = 'read';
                const hex = shared[(i * 7 + p) % shared.length];
                const got = await readBack(hex);
                if (got.hash !== hex) throw new Error(`read ${hex} returned other bytes`);
                bytes = got.size;
                return hex;
              }
              kind = 'write';
              // Every tenth write is the same file from every page at once; the rest are unique.
              const seed = i % 10 === 0 ? 250 : (p * 1000 + i) % 250;
              const size = i % 10 === 0 ? 50_000 : 1 + ((p * 7919 + i * 104_729) % 65_536);
              const data = patternBytes(size, seed);
              if (i % 10 !== 0) data[0] = p; // unique per page and op
              if (i % 10 !== 0) data[1] = i & 255;
              if (i % 10 !== 0) data[2] = i >> 8;
              const options = [{}, { origins: '*' }, { origins: ['http://c.test'] }][i % 3];
              await slot();
              const hex = await storeBytes(data, options).finally(release);
              const back = await readBack(hex);
              if (back.hash !== hex) throw new Error('write did not read back');
              bytes = size;
              return hex;
            };
            const result = await withTimeout(run().then((ok) => ({ ok }), (e) => ({ name: e.name, message: e.message })));
            return { kind, bytes, ms: performance.now() - t, ...(result === lost ? { lost: true } : result) };
          });
          return { results: await Promise.all(ops), unhandled: window.unhandled };
        },
        { p, perPage, shared },
      ),
    ),
  );
  const seconds = (Date.now() - t0) / 1000;
  const all = results.flatMap((r) => r.results);
  const lost = all.filter((r) => r.lost);
  const failed = all.filter((r) => !r.lost && !('ok' in r));
  const bytes = all.reduce((n, r) => n + r.bytes, 0);
  const ms = all.map((r) => r.ms).sort((a, b) => a - b);
  console.log(
    `[load] ${all.length} concurrent ops (${all.filter((r) => r.kind === 'write').length} writes + read-backs, ${all.filter((r) => r.kind === 'read').length} reads) ` +
      `over ${pages.length} origins in ${seconds.toFixed(2)} s: ${(all.length / seconds).toFixed(0)} ops/s, ${(bytes / MiB / seconds).toFixed(1)} MiB/s; ` +
      `latency median ${ms[Math.floor(ms.length / 2)].toFixed(0)} ms, p90 ${ms[Math.floor(ms.length * 0.9)].toFixed(0)} ms; ` +
      `lost ${lost.length}, failed ${failed.length}, unhandled ${results.reduce((n, r) => n + r.unhandled, 0)}`,
  );
  expect(all).toHaveLength(total);
  expect(lost, 'operations that never got a response').toEqual([]);
  expect(failed, 'operations that failed').toEqual([]);
  expect(results.map((r) => r.unhandled)).toEqual(pages.map(() => 0));
  const state = await storeState(context);
  const written = new Set(all.filter((r) => r.kind === 'write').map((r) => r.ok));
  for (const hex of [...written, ...shared]) expect(state.blobs[hex], hex).toBeGreaterThan(0);
  expect(state.entries).toEqual(Object.keys(state.blobs).sort());
  expect(state.tmp).toEqual({});
});
