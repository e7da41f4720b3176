// scripts/bench: store/read throughput, memory and cold start of the
// extension against the page's own OPFS + crypto.subtle in the same run.
// Not a test: it prints numbers. See `scripts/bench --help`.
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { launchBrowser, REPO_ROOT } from './lib/chromium.mjs';
import { startBenchServer } from '../tests/bench/server.mjs';
import { patternHash } from './lib/pattern.mjs';
import { idleMemoryMiB, idleAfterGcMiB, withPeakMemory } from '../tests/bench/memory.mjs';
import { cpuSnapshot, cpuSpent } from '../tests/bench/cpu.mjs';

const MiB = 1 << 20;
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log(`usage: scripts/bench [--4g]
  Sizes 64 MiB, 256 MiB, 1 GiB (and 4 GiB with --4g or COS_BENCH_4G=1).
  COS_BENCH_SIZES=64,256   sizes in MiB instead of the defaults
  COS_BENCH_COMPARE=<dir>  also run the same workload with the unpacked extension in <dir>
  COS_BENCH_SKIP_METHODS=1 only the main table (many 4 MiB write() calls), no write(blob)/pipeTo rows`);
  process.exit(0);
}
const sizesMiB = process.env.COS_BENCH_SIZES
  ? process.env.COS_BENCH_SIZES.split(',').map(Number)
  : [64, 256, 1024, ...(args.includes('--4g') || process.env.COS_BENCH_4G === '1' ? [4096] : [])];
const compareDir = process.env.COS_BENCH_COMPARE;
const allMethods = process.env.COS_BENCH_SKIP_METHODS !== '1';

const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));
const log = (...a) => console.error('  ', ...a);

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
  const context = await launchBrowser(userDataDir, server, { extensionDir });
  const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker', { timeout: 10_000 }).catch(() => null));
  const extensionId = sw ? new URL(sw.url()).host : null;
  return {
    context,
    sw,
    extensionId,
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
  if (!browser.extensionId) return null;
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
  const median = (xs) => xs.sort((a, b) => a - b)[1];
  return { cold: median(cold), warm: median(warm), all: cold };
}

async function hashBench(browser) {
  const page = await browser.context.newPage();
  await page.goto(`chrome-extension://${browser.extensionId}/tests/bench/hash.html`);
  await page.waitForFunction(() => window.hashBenchReady);
  const result = await page.evaluate(() => hashBench(64, 3));
  await page.close();
  return result;
}

/** The whole workload with one extension; returns rows per size. */
async function runWorkload(extensionDir, server, { native }) {
  const browser = await launch(extensionDir, server);
  const out = { rows: [], cold: null, hash: null };
  try {
    const page = await browser.context.newPage();
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(server.origin('a.test') + '/bench.html');
    if (!(await page.evaluate(() => 'crossOriginStorage' in navigator))) throw new Error('navigator.crossOriginStorage is missing');
    await page.evaluate(() => bench.ping()); // the worker is up and warm
    out.cold = await coldStart(browser, page).catch((e) => (log(`cold start not measured: ${e.message}`), null));
    if (extensionDir === REPO_ROOT) out.hash = await hashBench(browser).catch((e) => (log(`hash bench failed: ${e.message}`), null));
    await page.evaluate(() => bench.ping());
    log(`idle browser memory ${fmt(await idleMemoryMiB())} MiB`);
    let seed = 1;
    for (const mib of sizesMiB) {
      const size = mib * MiB;
      const [sNative, sChunks, sPipe] = [seed++, seed++, seed++];
      const [hNative, hChunks, hPipe] = [sNative, sChunks, sPipe].map((s) => patternHash(size, s));
      const row = { mib, size };
      const name = `native-${mib}`;
      const timed = async (label, fn) => {
        let idle = NaN;
        try {
          // Every phase starts with no dirty page cache (otherwise a write
          // that follows another pays for flushing it to disk) and from its
          // own idle baseline, taken after the page's garbage is collected.
          execFileSync('sync');
          idle = await idleAfterGcMiB(page);
          const cpuBefore = await cpuSnapshot();
          const { result, peakMiB } = await withPeakMemory(fn);
          const cpu = cpuSpent(cpuBefore, await cpuSnapshot());
          log(`${mib} MiB (idle ${fmt(idle)} MiB) ${label}: ${fmt(typeof result === 'number' ? result : result.ms)} ms, peak ${fmt(peakMiB - idle)} MiB over idle`);
          return { ...(typeof result === 'number' ? { ms: result } : result), peak: peakMiB - idle, cpu };
        } catch (e) {
          log(`${mib} MiB (idle ${fmt(idle)} MiB) ${label}: ${e.message}`);
          return { error: e.message.split('\n')[0] };
        }
      };
      // The native file is written in every run: write(blob) stores it through the extension.
      row.nativeStore = await timed('native store', () => page.evaluate(([n, s, sd]) => bench.nativeStore(n, s, sd), [name, size, sNative]));
      if (native) row.nativeRead = await timed('native read', () => page.evaluate((n) => bench.nativeRead(n), name));
      row.chunks = await timed('store, 4 MiB write() calls', () =>
        page.evaluate(([h, s, sd]) => bench.storeChunks(h, s, sd), [hChunks, size, sChunks]),
      );
      row.read = await timed('read', () => page.evaluate((h) => bench.read(h), hChunks));
      if (row.read.bytes !== undefined && row.read.bytes !== size) row.read.error = `read ${row.read.bytes} bytes`;
      if (allMethods) {
        row.blob = await timed('store, one write(blob)', () => page.evaluate(([h, n]) => bench.storeBlob(h, n), [hNative, name]));
        row.pipe = await timed('store, pipeTo', () => page.evaluate(([h, s, sd]) => bench.storePipe(h, s, sd), [hPipe, size, sPipe]));
      }
      await page.evaluate((n) => bench.nativeRemove(n), name);
      out.rows.push(row);
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

const rate = (m, size) => (m?.error ? 'error' : fmt(mbps(size, m.ms)));
const sizeLabel = (mib) => (mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`);

const server = await startBenchServer();
const startLoad = loadavg()[0];
const startForeign = foreignChromium();
console.log(`# COS benchmark: ${cpus().length}x ${cpus()[0]?.model.trim()}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM, ` +
  `${execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim()}`);
console.log(`# load average at start ${fmt(startLoad, 2)}; other chromium processes running: ${startForeign}`);
const ours = await runWorkload(REPO_ROOT, server, { native: true });
let other = null;
if (compareDir) {
  log(`comparison run: ${compareDir}`);
  other = await runWorkload(compareDir, server, { native: false }).catch((e) => ({ failed: e.message }));
}
await server.close();

console.log('\nstore = many write() calls of 4 MiB, first write() to close(); read = getFileHandle() to last byte;');
console.log('native = the same page: own OPFS createWritable + crypto.subtle.digest of each chunk, and reading it back.\n');
console.log(
  table(
    ['size', 'store MB/s (ours)', 'read MB/s (ours)', 'native baseline store MB/s', 'native read MB/s', 'ours/native store', 'ours/native read', 'peak extra memory MiB'],
    ours.rows.map((r) => {
      const ns = mbps(r.size, r.nativeStore.ms);
      const nr = mbps(r.size, r.nativeRead.ms);
      // This row's workload: storing with 4 MiB writes and reading back (the other ways have their own table).
      const peak = Math.max(...[r.chunks, r.read].filter((m) => m && !m.error).map((m) => m.peak));
      return [
        sizeLabel(r.mib),
        rate(r.chunks, r.size),
        rate(r.read, r.size),
        fmt(ns),
        fmt(nr),
        r.chunks.error ? '-' : fmt(mbps(r.size, r.chunks.ms) / ns, 2),
        r.read.error ? '-' : fmt(mbps(r.size, r.read.ms) / nr, 2),
        fmt(peak),
      ];
    }),
  ),
);
if (allMethods) {
  console.log('\nother ways to store (ours), MB/s and peak extra memory MiB; getFile() latency on the stored entry:\n');
  console.log(
    table(
      ['size', 'write(blob) MB/s', 'pipeTo MB/s', 'peak MiB 4MiB-writes', 'peak MiB write(blob)', 'peak MiB pipeTo', 'peak MiB read', 'native store peak MiB', 'getFile() ms'],
      ours.rows.map((r) => [
        sizeLabel(r.mib),
        rate(r.blob, r.size),
        rate(r.pipe, r.size),
        fmt(r.chunks.peak),
        fmt(r.blob.peak),
        fmt(r.pipe.peak),
        fmt(r.read.peak),
        fmt(r.nativeStore.peak),
        fmt(r.read.getFileMs, 1),
      ]),
    ),
  );
}
const ROLES = ['browser', 'page renderers', 'extension renderer', 'other'];
const cpuCells = (m) =>
  ROLES.map((role) => (m?.cpu?.[role] ? `${fmt(m.cpu[role].seconds, 1)} (${fmt(m.cpu[role].systemSeconds, 1)})` : '-'));
const coresUsed = (m) => (m?.cpu ? fmt(Object.values(m.cpu).reduce((a, c) => a + c.seconds, 0) / (m.ms / 1000), 2) : '-');
console.log('\nwhere the store time goes: CPU seconds by process (of which in the kernel), and cores busy on average:\n');
console.log(
  table(
    ['size', 'store', 'wall s', ...ROLES.map((r) => `${r} s`), 'cores busy'],
    ours.rows.flatMap((r) =>
      [['native', r.nativeStore], ['ours, 4 MiB writes', r.chunks]].map(([way, m]) => [
        sizeLabel(r.mib),
        way,
        m.error ? 'error' : fmt(m.ms / 1000, 1),
        ...cpuCells(m),
        coresUsed(m),
      ]),
    ),
  ),
);
if (ours.cold) {
  console.log(`\ncold start (service worker stopped, then one request; Wasm instantiation, PSL parse, index restore included):` +
    ` median ${fmt(ours.cold.cold)} ms of [${ours.cold.all.map((x) => fmt(x)).join(', ')}]; warm request ${fmt(ours.cold.warm, 1)} ms`);
}
if (ours.hash) {
  console.log(`hashing ${ours.hash.mib} MiB in an extension page: Rust sha2 in Wasm fed 4 MiB buffers ${fmt(ours.hash.rustBuffers)} MB/s, ` +
    `crypto.subtle.digest ${fmt(ours.hash.subtle)} MB/s (ratio ${fmt(ours.hash.rustBuffers / ours.hash.subtle, 2)}); ` +
    `Rust via the Blob byte pump ${fmt(ours.hash.rustPump)} MB/s; reading the Blob in 4 MiB slices alone ${fmt(ours.hash.blobSlicesOnly)} MB/s`);
}
if (other) {
  console.log(`\ncomparison with ${compareDir}:`);
  if (other.failed) console.log(`  failed: ${other.failed}`);
  else {
    console.log(
      table(
        ['size', 'store MB/s ours', 'store MB/s other', 'ours/other store', 'read MB/s ours', 'read MB/s other', 'ours/other read'],
        ours.rows.map((r, i) => {
          const o = other.rows[i];
          const ratio = (a, b) => (a?.error || b?.error ? '-' : fmt(b.ms / a.ms, 2));
          return [sizeLabel(r.mib), rate(r.chunks, r.size), rate(o.chunks, r.size), ratio(r.chunks, o.chunks), rate(r.read, r.size), rate(o.read, r.size), ratio(r.read, o.read)];
        }),
      ),
    );
    if (other.cold) console.log(`other cold start: median ${fmt(other.cold.cold)} ms; warm ${fmt(other.cold.warm, 1)} ms`);
  }
}
console.log(`\n# load average at end ${fmt(loadavg()[0], 2)}; other chromium processes running: ${foreignChromium()}`);
