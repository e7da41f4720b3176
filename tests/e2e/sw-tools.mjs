// Tools for the fault, load and attacker suites: look inside the extension
// (OPFS and chrome.storage, from its service worker), stop and wake the
// worker through CDP, kill the browser, and send the user's admin requests
// from an extension page. None of this depends on the popup or settings UI.
import { execFileSync } from 'node:child_process';

export const MiB = 1 << 20;

export const extensionId = (serviceWorker) => new URL(serviceWorker.url()).host;

/** A service worker of the extension that answers (the previous one may have been stopped). */
export async function liveWorker(context, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const sw of context.serviceWorkers()) {
      if (!sw.url().endsWith('/extension/sw.js')) continue;
      const alive = await Promise.race([sw.evaluate(() => true).catch(() => false), sleep(1000).then(() => false)]);
      if (alive) return sw;
    }
    await Promise.race([context.waitForEvent('serviceworker', { timeout: 1000 }).catch(() => {}), sleep(250)]);
  }
  throw new Error('no live extension service worker');
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * What the extension holds, read from inside its service worker:
 * `{blobs: {name: size}, tmp: {name: size}, entries: [hash], usage}`.
 */
export async function storeState(context) {
  const sw = await liveWorker(context);
  return sw.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const list = async (name) => {
      let dir;
      try {
        dir = await root.getDirectoryHandle(name);
      } catch {
        return {};
      }
      const out = {};
      // What the worker removes while it is being listed is simply gone.
      const gone = (e) => {
        if (e.name !== 'NotFoundError') throw e;
        return null;
      };
      try {
        for await (const [n, h] of dir.entries()) {
          const size = h.kind === 'file' ? await h.getFile().then((f) => f.size, gone) : 'dir';
          if (size !== null) out[n] = size;
        }
      } catch (e) {
        gone(e);
      }
      return out;
    };
    const all = await chrome.storage.local.get(null);
    const entries = Object.keys(all)
      .filter((k) => k.startsWith('entry:'))
      .map((k) => k.slice('entry:'.length))
      .sort();
    const top = [];
    for await (const n of root.keys()) top.push(n);
    return { blobs: await list('blobs'), tmp: await list('tmp'), entries, top: top.sort(), usage: (await navigator.storage.estimate()).usage };
  });
}

/** Runs `fn(arg)` inside the extension's service worker (OPFS, chrome.storage). */
export async function inWorker(context, fn, arg) {
  return (await liveWorker(context)).evaluate(fn, arg);
}

/** Stops every service worker of the profile (the extension's included) via CDP. */
export async function stopWorkers(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  await cdp.detach().catch(() => {});
}

/**
 * Restarts the extension's worker: stops it, then wakes it with a harmless
 * request from `page` (start-up reconciles OPFS with the index before it
 * answers). Returns the new worker.
 */
export async function restartWorker(page) {
  await stopWorkers(page);
  await sleep(300);
  await wake(page);
  return liveWorker(page.context());
}

/** A request that needs the worker (an open of a hash nobody stores). */
export const wake = (page) =>
  page.evaluate(() => outcome(() => navigator.crossOriginStorage.getFileHandle({ algorithm: 'SHA-256', value: 'f'.repeat(64) })));

/** Sends one admin request from an extension page (the user's tier). */
export async function admin(context, serviceWorker, request) {
  const page = await context.newPage();
  try {
    await page.goto(`chrome-extension://${extensionId(serviceWorker)}/manifest.json`);
    const reply = await page.evaluate((request) => chrome.runtime.sendMessage({ request }), request);
    if (!reply?.ok) throw new Error(`admin ${request.op} failed: ${JSON.stringify(reply)}`);
    return reply.value;
  } finally {
    await page.close();
  }
}

/**
 * Makes sure one origin may store a file of `bytes`. The default budget is
 * half the disk space the browser grants the extension, and an origin's limit
 * is that rounded down to a power of two: on a small disk, under a large
 * file. Then the user's budget is set to the next power of two (as on the
 * settings page). Returns `{before, after, set, budgetBytes}`.
 */
export async function ensureOriginLimit(context, bytes) {
  const sw = await liveWorker(context);
  const { originLimitBytes: before } = await admin(context, sw, { op: 'summary' });
  if (before >= bytes) return { before, after: before, set: false };
  const budgetBytes = 2 ** Math.ceil(Math.log2(bytes));
  const { originLimitBytes: after } = await admin(context, sw, { op: 'settings', settings: { budgetBytes } });
  return { before, after, set: true, budgetBytes };
}

/**
 * Puts `hashes` on the Public Hash List (its manual section, as the user does
 * on the settings page), so global files reach other sites through the gate.
 */
export async function makePublic(context, hashes) {
  await admin(context, await liveWorker(context), { op: 'add-public-hashes', hashes });
}

/** PID of the browser process running on `userDataDir` (not its children). */
export function browserPid(userDataDir) {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  const pids = out
    .split('\n')
    .filter((line) => line.includes(`--user-data-dir=${userDataDir}`) && !line.includes('--type='))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
  if (pids.length !== 1) throw new Error(`expected one browser process for ${userDataDir}, found ${pids.length}`);
  return pids[0];
}

/** SIGKILLs the browser on `userDataDir` (no shutdown, no flush) and waits for the context to notice. */
export async function killBrowser(context, userDataDir) {
  const closed = new Promise((r) => context.once('close', r));
  process.kill(browserPid(userDataDir), 'SIGKILL');
  await Promise.race([closed, sleep(10_000)]);
}

/** Median and 90th percentile of `values` (ms), and how many. */
export function distribution(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, median: at(0.5), p90: at(0.9), min: s[0], max: s[s.length - 1] };
}
