// Public Hash List refresh benchmark (not a test): a synthetic 450,000-digest
// list refreshed by the extension's worker in Debian's Chromium, the way the
// settings page asks for it, then a worker restart that loads the saved list.
// Twice: the digests alone (~30 MB), then with a comment line per digest so
// the text is the upstream list's size (~88 MB).
//
// Measured: wall time of the refresh (download, parse, verify, save), the
// extension process's resident memory before and after and its peak during
// the refresh (Linux VmHWM, reset before), and the time from a stopped
// worker to its first answer (start-up, which verifies and loads the saved
// list), against the same with the bundled list.
//
//   node tests/bench/phl-refresh.mjs        (after scripts/build)
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { launchChromium } from '../../scripts/lib/chromium.mjs';
import { startListServer } from '../e2e/list-server.mjs';
import { browserPid, extensionId, liveWorker, sleep, stopWorkers } from '../e2e/sw-tools.mjs';
import { DIGESTS, syntheticList } from './synthetic-list.mjs';

const mib = (kib) => (kib / 1024).toFixed(1);

/** The list with a comment line before each digest, as the upstream list names each file's source. */
function withComments(text) {
  return Buffer.from(
    text
      .toString()
      .split('\n')
      .map((line) => (/^[0-9a-f]{64}$/.test(line) ? `// https://cdn.example.com/npm/some-package@1.2.3/dist/${line.slice(0, 40)}.min.js\n${line}` : line))
      .join('\n'),
  );
}

/** The extension's renderer process (the worker and extension pages run there): a descendant of the browser with --extension-process. */
function extensionProcess(userDataDir) {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pid, ppid, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), args: args.join(' ') };
    });
  const ours = new Set([browserPid(userDataDir)]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of rows) {
      if (!ours.has(r.pid) && ours.has(r.ppid)) {
        ours.add(r.pid);
        grew = true;
      }
    }
  }
  const found = rows.filter((r) => ours.has(r.pid) && r.args.includes('--extension-process'));
  if (found.length !== 1) throw new Error(`expected one extension process, found ${found.length}`);
  return found[0].pid;
}

async function memory(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'))[1]);
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** Resets the process's peak resident size to its current one (Linux clear_refs 5). */
const resetPeak = (pid) => writeFile(`/proc/${pid}/clear_refs`, '5');

/** Time from a stopped worker to its first answer (start-up included). */
async function coldStart(page, send) {
  await stopWorkers(page);
  await sleep(500);
  const start = performance.now();
  await send({ op: 'status' });
  return performance.now() - start;
}

async function run(name, text) {
  const lists = await startListServer();
  const sidecar = `${createHash('sha256').update(text).digest('hex')}  public_hash_list.txt\n`;
  lists.serve('/list.txt', text);
  lists.serve('/list.txt.sha256', sidecar);
  const profile = await mkdtemp(join(tmpdir(), 'cos-phl-bench-'));
  const context = await launchChromium(profile);
  try {
    const worker = await liveWorker(context);
    const page = await context.newPage();
    await page.goto(`chrome-extension://${extensionId(worker)}/manifest.json`);
    const send = (request) => page.evaluate((r) => chrome.runtime.sendMessage({ publicList: r }), request);
    await send({ op: 'status' });
    const bundledStart = await coldStart(page, send);
    const pid = extensionProcess(profile);
    await sleep(1000);
    const before = await memory(pid);
    await resetPeak(pid);
    const start = performance.now();
    const reply = await send({ op: 'set-url', url: lists.url('/list.txt') });
    const refreshMs = performance.now() - start;
    if (!reply.ok || reply.value.inUse.count !== DIGESTS) throw new Error(`refresh failed: ${JSON.stringify(reply).slice(0, 300)}`);
    const during = await memory(pid);
    await sleep(3000);
    const after = await memory(pid);
    const savedStart = await coldStart(page, send);
    const again = await send({ op: 'status' });
    if (again.value.inUse.source !== 'url') throw new Error('the saved list was not used after the restart');
    console.log(
      `${name}: ${(text.length / 1e6).toFixed(1)} MB, ${DIGESTS} digests: refresh ${refreshMs.toFixed(0)} ms; ` +
        `extension process RSS ${mib(before.rss)} MiB before, peak ${mib(during.peak)} MiB during (+${mib(during.peak - before.rss)}), ` +
        `${mib(after.rss)} MiB after (+${mib(after.rss - before.rss)}); ` +
        `worker cold start ${bundledStart.toFixed(0)} ms with the bundled list, ${savedStart.toFixed(0)} ms with the saved one`,
    );
  } finally {
    await context.close();
    await lists.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const bare = syntheticList();
await run('digests only', bare);
await run('upstream size', withComments(bare));
