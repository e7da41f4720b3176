// scripts/bench: the large-file issue's ratios in one run. For each size,
// rounds of paired measurements in one page, ours and the page's own OPFS
// (native) interleaved and alternating which goes first: store with many
// 4 MiB write() calls, read back, store with one write(blob); each with its
// peak extra memory and CPU by process. Medians over the rounds with their
// spread. Not a test: it prints numbers. See `scripts/bench --help`.
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { loadavg, tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { launchBrowser, REPO_ROOT } from './lib/chromium.mjs';
import { patternHash } from './lib/pattern.mjs';
import { admin, ensureOriginLimit, liveWorker } from '../tests/e2e/sw-tools.mjs';
import { startBenchServer } from '../tests/bench/server.mjs';
import { idleAfterGc, withPeakMemory } from '../tests/bench/memory.mjs';
import { cpuSnapshot, cpuSpent } from '../tests/bench/cpu.mjs';
import { ROLES } from '../tests/bench/processes.mjs';
import { messagingBench } from '../tests/bench/messaging.mjs';

const MiB = 1 << 20;
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(`usage: scripts/bench [--4g] [--8g]
  1 GiB; --4g or --8g: that size instead (one round by default; the disk must
  have twice the size free, checked first).
  COS_BENCH_SIZES=64,256   sizes in MiB instead
  COS_BENCH_ROUNDS=3       paired rounds per size (ours and native interleaved; default 3 up to 1 GiB, else 1)
  COS_BENCH_COMPARE=<dir>  afterwards, the same workload with the unpacked extension in <dir>`);
  process.exit(0);
}
const big = [...(args.includes('--4g') ? [4096] : []), ...(args.includes('--8g') ? [8192] : [])];
const sizesMiB = process.env.COS_BENCH_SIZES ? process.env.COS_BENCH_SIZES.split(',').map(Number) : big.length ? big : [1024];
const rounds = Number(process.env.COS_BENCH_ROUNDS ?? (Math.max(...sizesMiB) > 1024 ? 1 : 3));
const compareDir = process.env.COS_BENCH_COMPARE;

const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const log = (...a) => console.error('  ', ...a);
const sizeLabel = (mib) => (mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** "median [min–max]" of the finite values, or '-'. */
const spread = (xs, digits = 0) => {
  const ok = xs.filter(Number.isFinite);
  if (!ok.length) return '-';
  if (ok.length === 1) return fmt(ok[0], digits);
  return `${fmt(median(ok), digits)} [${fmt(Math.min(...ok), digits)}–${fmt(Math.max(...ok), digits)}]`;
};

/** Chromium processes not started by this run: a sign someone else is loading the machine. */
function foreignChromium() {
  try {
    const out = execFileSync('ps', ['-eo', 'pid,ppid,comm'], { encoding: 'utf8' });
    return out.split('\n').filter((l) => /chrom/.test(l)).length;
  } catch {
    return NaN;
  }
}

async function launch(extensionDir, server) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'cos-bench-'));
  // gc() in every V8 context, for the extension's service worker (see measure()).
  const context = await launchBrowser(userDataDir, server, { extensionDir, args: ['--js-flags=--expose-gc'] });
  const sw = await liveWorker(context);
  return {
    context,
    sw,
    extensionId: new URL(sw.url()).host,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Stops the extension's service worker through CDP on one of its own pages. */
async function stopWorker(browser) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/manifest.json`);
  const cdp = await browser.context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach();
  await page.close();
}

async function coldStart(browser, page) {
  const cold = [];
  const warm = [];
  for (let i = 0; i < 3; i++) {
    await stopWorker(browser);
    await new Promise((r) => setTimeout(r, 500));
    const first = await page.evaluate(() => bench.ping());
    if (first.result !== 'NotFoundError') throw new Error(`cold request answered ${first.result}`);
    cold.push(first.ms);
    warm.push((await page.evaluate(() => bench.ping())).ms);
  }
  return { cold: median(cold), warm: median(warm), all: cold };
}

/** Runs `run` (a page function) in the extension page `path` once it set `window[ready]`; its result. */
async function inExtensionPage(browser, path, ready, run) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/${path}`);
  await page.waitForFunction((flag) => window[flag], ready);
  const result = await page.evaluate(run);
  await page.close();
  return result;
}

/** Hashing in an extension page (tests/bench/hash.js), MB/s. */
const hashBench = (browser) => inExtensionPage(browser, 'tests/bench/hash.html', 'hashBenchReady', () => hashBench(64, 3));

/** Byte I/O ways in an extension page and its dedicated worker (tests/bench/io.js), MB/s. */
const ioBench = (browser) => inExtensionPage(browser, 'tests/bench/io.html', 'ioBenchReady', () => ioBench(256));

/**
 * Runs one phase: after `sync` (no phase pays for flushing the one before)
 * and from its own idle baseline, taken once the page and the extension's
 * service worker have collected their garbage (else an earlier phase's
 * leftovers count as idle, and the phase that happens to collect them shows
 * a negative peak); records time, peak extra memory (total and by role) and
 * CPU by role.
 */
async function measure(page, label, fn) {
  try {
    execFileSync('sync');
    await (await liveWorker(page.context())).evaluate(() => globalThis.gc());
    const idle = await idleAfterGc(page);
    const cpuBefore = await cpuSnapshot();
    const { result, peakMiB, byRole } = await withPeakMemory(fn);
    const cpu = cpuSpent(cpuBefore, await cpuSnapshot());
    const out = { ...(typeof result === 'number' ? { ms: result } : result), peak: peakMiB - idle.total, cpu };
    out.peakByRole = Object.fromEntries(ROLES.map((role) => [role, byRole[role] - idle.byRole[role]]));
    log(`${label}: ${fmt(out.ms)} ms, peak ${fmt(out.peak)} MiB over idle (${fmt(idle.total)} MiB); load ${fmt(loadavg()[0], 2)}`);
    if (out.error) throw new Error(out.error);
    return out;
  } catch (e) {
    log(`${label}: ${e.message}`);
    return { error: e.message.split('\n')[0] };
  }
}

/** The whole workload with one extension: `{sizes: [{mib, size, rounds: [{pair: {ours, native}}]}], cold, hash, io}`. */
async function runWorkload(extensionDir, server) {
  const browser = await launch(extensionDir, server);
  const out = { sizes: [], cold: null, hash: null, io: null };
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(server.origin('a.test') + '/bench.html');
    if (!(await page.evaluate(() => 'crossOriginStorage' in navigator))) throw new Error('navigator.crossOriginStorage is missing');
    await page.evaluate(() => bench.ping()); // the worker is up and warm
    out.cold = await coldStart(browser, page).catch((e) => (log(`cold start not measured: ${e.message}`), null));
    out.hash = await hashBench(browser).catch((e) => (log(`hash bench failed: ${e.message}`), null));
    out.io = await ioBench(browser).catch((e) => (log(`I/O bench failed: ${e.message}`), null));
    const limit = await ensureOriginLimit(browser.context, Math.max(...sizesMiB) * MiB);
    out.limit = limit;
    if (limit.set) log(`origin limit ${limit.before} bytes is under the largest size: budget set to ${limit.budgetBytes}`);
    for (const mib of sizesMiB) {
      const size = mib * MiB;
      // Ours stores the chunk pattern of SEED_OURS; the page's own file (the
      // native baseline's, and the File that write(blob) stores) is SEED_NATIVE's.
      const [SEED_OURS, SEED_NATIVE] = [1, 2];
      const hexChunks = patternHash(size, SEED_OURS);
      const hexFile = patternHash(size, SEED_NATIVE);
      const forget = (hex) => admin(browser.context, browser.sw, { op: 'delete', hash: hex });
      const row = { mib, size, rounds: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['ours', 'native'] : ['native', 'ours'];
        const at = `${sizeLabel(mib)} round ${r + 1}`;
        const pair = async (name, phases) => {
          const result = {};
          for (const who of order) result[who] = await measure(page, `${at} ${name} ${who}`, phases[who]);
          return result;
        };
        const round = {};
        // At most two files of `size` on disk at once: ours and the page's.
        round.chunks = await pair('4 MiB write()s', {
          ours: () => page.evaluate(([h, s, sd]) => bench.storeChunks(h, s, sd), [hexChunks, size, SEED_OURS]),
          native: () => page.evaluate(([s, sd]) => bench.nativeChunks('file', s, sd), [size, SEED_NATIVE]),
        });
        round.read = await pair('read', {
          ours: () => page.evaluate(([h, sd]) => bench.read(h, sd), [hexChunks, SEED_OURS]),
          native: () => page.evaluate((sd) => bench.nativeRead('file', sd), SEED_NATIVE),
        });
        await forget(hexChunks);
        round.blob = await pair('write(blob)', {
          ours: async () => {
            const ms = await page.evaluate((h) => bench.storeBlob(h, 'file'), hexFile);
            await forget(hexFile);
            return ms;
          },
          native: async () => {
            const ms = await page.evaluate(() => bench.nativeBlob('file', 'copy'));
            await page.evaluate(() => bench.nativeRemove('copy'));
            return ms;
          },
        });
        await page.evaluate(() => bench.nativeRemove('file'));
        row.rounds.push(round);
      }
      out.sizes.push(row);
    }
  } finally {
    await browser.close();
  }
  return out;
}

function table(headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padStart(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const PAIRS = [
  ['chunks', 'store, 4 MiB write()s'],
  ['blob', 'store, one write(blob)'],
  ['read', 'read (streamed)'],
];
/** Values of `get(measurement)` over a size's rounds, for `pair` and `who`. */
const over = (row, pair, who, get) => row.rounds.map((r) => (r[pair][who].error ? NaN : get(r[pair][who])));
/** Ours/native per round (paired: both ran back to back in the same round). */
const ratios = (row, pair) =>
  row.rounds.map((r) => (r[pair].ours.error || r[pair].native.error ? NaN : r[pair].native.ms / r[pair].ours.ms));

function report(result, label) {
  console.log(`\n## ${label}\n`);
  console.log('MB/s and ours/native as median [min–max] over the rounds (each ratio from one round\'s back-to-back pair):\n');
  console.log(
    table(
      ['size', 'way', 'ours MB/s', 'native MB/s', 'ours/native', 'failed rounds'],
      result.sizes.flatMap((row) =>
        PAIRS.map(([pair, way]) => [
          sizeLabel(row.mib),
          way,
          spread(over(row, pair, 'ours', (m) => mbps(row.size, m.ms))),
          spread(over(row, pair, 'native', (m) => mbps(row.size, m.ms))),
          spread(ratios(row, pair), 2),
          row.rounds.filter((r) => r[pair].ours.error || r[pair].native.error).length,
        ]),
      ),
    ),
  );
  console.log('\npeak extra memory, MiB over idle: all Chromium processes, then each process role\'s own peak (median over the rounds):\n');
  console.log(
    table(
      ['size', 'way', 'who', 'all processes', ...ROLES],
      result.sizes.flatMap((row) =>
        PAIRS.flatMap(([pair, way]) =>
          ['ours', 'native'].map((who) => [
            sizeLabel(row.mib),
            way,
            who,
            spread(over(row, pair, who, (m) => m.peak)),
            ...ROLES.map((role) => fmt(median(over(row, pair, who, (m) => m.peakByRole[role]).filter(Number.isFinite)))),
          ]),
        ),
      ),
    ),
  );
  console.log('\nCPU seconds by process role (of which in the kernel), medians over the rounds; cores busy = all CPU / wall time:\n');
  const cpuOf = (m, role) => m.cpu?.[role] ?? { seconds: 0, systemSeconds: 0 };
  console.log(
    table(
      ['size', 'way', 'who', 'wall s', ...ROLES.map((r) => `${r} s`), 'cores busy'],
      result.sizes.flatMap((row) =>
        PAIRS.flatMap(([pair, way]) =>
          ['ours', 'native'].map((who) => {
            const m = (get) => median(over(row, pair, who, get).filter(Number.isFinite));
            return [
              sizeLabel(row.mib),
              way,
              who,
              fmt(m((x) => x.ms / 1000), 1),
              ...ROLES.map((role) => `${fmt(m((x) => cpuOf(x, role).seconds), 1)} (${fmt(m((x) => cpuOf(x, role).systemSeconds), 1)})`),
              fmt(m((x) => ROLES.reduce((a, role) => a + cpuOf(x, role).seconds, 0) / (x.ms / 1000)), 2),
            ];
          }),
        ),
      ),
    ),
  );
  const getFile = result.sizes.map((row) => `${sizeLabel(row.mib)} ${spread(over(row, 'read', 'ours', (m) => m.getFileMs), 1)} ms`);
  console.log(`\ngetFile() on a stored entry (a reference, not a copy): ${getFile.join('; ')}`);
  if (result.cold) {
    console.log(`cold start (service worker stopped, then one request; Wasm instantiation, PSL parse, index restore included):` +
      ` median ${fmt(result.cold.cold)} ms of [${result.cold.all.map((x) => fmt(x)).join(', ')}]; warm request ${fmt(result.cold.warm, 1)} ms`);
  }
  if (result.hash) {
    const h = result.hash;
    console.log(`hashing ${h.mib} MiB in an extension page: Rust sha2 in Wasm fed 4 MiB buffers ${fmt(h.rustBuffers)} MB/s, ` +
      `crypto.subtle.digest ${fmt(h.subtle)} MB/s (ratio ${fmt(h.rustBuffers / h.subtle, 2)}); ` +
      `Rust via the Blob byte pump ${fmt(h.rustPump)} MB/s; reading the Blob in 4 MiB slices alone ${fmt(h.blobSlicesOnly)} MB/s`);
  }
  if (result.io) {
    const io = result.io;
    console.log(`byte I/O, ${io.mib} MiB into the extension's OPFS from an extension page: writable stream fed 4 MiB ArrayBuffers ` +
      `${fmt(io.writableBuffers)} MB/s (the service worker's way for write() bytes), fed 64 MiB slices of a disk-backed File ` +
      `${fmt(io.writableBlobSlices)} MB/s (its way for write(blob)); from a dedicated worker (what an offscreen document could host), ` +
      `FileSystemSyncAccessHandle.write of 4 MiB buffers ${fmt(io.syncBuffers)} MB/s, that File read and written through one ` +
      `buffer ${fmt(io.syncReadWrite)} MB/s, and also hashed with the store's SHA-256 on the same thread ${fmt(io.syncReadHashWrite)} MB/s, ` +
      `hashed on a second thread instead ${fmt(io.syncReadWriteHashElsewhere)} MB/s`);
  }
}

// At most two files of the largest size are on disk at once (the profile lives in tmpdir()).
const needBytes = 2 * Math.max(...sizesMiB) * MiB + 1024 * MiB;
const { bavail, bsize } = await statfs(tmpdir());
const freeBytes = bavail * bsize;
if (freeBytes < needBytes) {
  console.log(`# not enough disk: ${fmt(freeBytes / 2 ** 30, 1)} GiB free in ${tmpdir()}, ` +
    `${sizeLabel(Math.max(...sizesMiB))} needs ${fmt(needBytes / 2 ** 30, 1)} GiB (two files of that size and some room)`);
  process.exit(1);
}
const server = await startBenchServer();
const cpu = cpus();
console.log(`# COS benchmark: ${cpu.length} cores, ${cpu[0]?.model.trim()}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; ` +
  `${execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim()}`);
console.log(`# sizes ${sizesMiB.map(sizeLabel).join(', ')}; ${rounds} rounds each; disk ${fmt(freeBytes / 2 ** 30, 1)} GiB free in ${tmpdir()}`);
console.log(`# load average at start ${loadavg().map((x) => fmt(x, 2)).join(' ')} (1, 5, 15 min); other chromium processes running: ${foreignChromium()}`);
const ours = await runWorkload(REPO_ROOT, server);
report(ours, `this extension (${REPO_ROOT})`);
if (ours.limit?.set) console.log(`(the default origin limit, ${ours.limit.before} bytes, was under ${sizeLabel(Math.max(...sizesMiB))}: the run set a budget of ${ours.limit.budgetBytes} bytes)`);
const messaging = await messagingBench(server).catch((e) => (log(`messaging bench failed: ${e.message}`), null));
if (messaging) {
  console.log(`extension messaging alone, ${sizeLabel(messaging.mib)} as 4 MiB ArrayBuffers from a content script, only acknowledged ` +
    `(the ceiling of any store that receives page bytes by extension messaging; tests/bench/messaging.mjs): to the service worker ${spread(messaging.serviceWorker)} MB/s, ` +
    `to an offscreen document ${spread(messaging.document)} MB/s`);
}
if (compareDir) {
  log(`comparison run: ${compareDir}`);
  const other = await runWorkload(compareDir, server).catch((e) => (console.log(`\ncomparison with ${compareDir} failed: ${e.message}`), null));
  if (other) report(other, `comparison: ${compareDir}`);
}
await server.close();
console.log(`\n# load average at end ${loadavg().map((x) => fmt(x, 2)).join(' ')}; other chromium processes running: ${foreignChromium()}`);
