// Browser memory as the issue defines it: the sum of PSS over every Chromium
// process (browser, renderers, GPU, utilities), read from
// /proc/<pid>/smaps_rollup. Playwright starts the browser as a child of this
// Node process, so "every Chromium process" is every descendant of it.
import { readdir, readFile } from 'node:fs/promises';

export async function descendants(root = process.pid) {
  const children = new Map();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    // Fields after the ")" that ends the command name: state, ppid, ...
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(name));
  }
  const out = [];
  const queue = [...(children.get(root) ?? [])];
  while (queue.length) {
    const pid = queue.shift();
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** kB of PSS (RSS where smaps_rollup is unavailable) of one process, 0 if it is gone. */
async function pssKb(pid) {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null);
  const match = text?.match(/^Pss:\s+(\d+) kB/m);
  if (match) return Number(match[1]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
}

/** Total PSS in MiB of every process descended from this one. */
export async function browserMemoryMiB() {
  const pids = await descendants();
  const kbs = await Promise.all(pids.map(pssKb));
  return kbs.reduce((a, b) => a + b, 0) / 1024;
}

/** Median of a few samples, for an idle baseline. */
export async function idleMemoryMiB(samples = 5, gapMs = 300) {
  const values = [];
  for (let i = 0; i < samples; i++) {
    values.push(await browserMemoryMiB());
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/**
 * Idle memory once `page`'s renderer has collected its garbage (through
 * CDP): an earlier phase's leftovers, which V8 collects lazily, would
 * otherwise count as idle, and the phase that finally collects them would
 * show a negative peak.
 */
export async function idleAfterGcMiB(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.detach();
  return idleMemoryMiB();
}

/** Samples memory every `intervalMs` until stop(); stop() resolves to the peak in MiB. */
export function sampleMemory(intervalMs = 250) {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await browserMemoryMiB());
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await browserMemoryMiB());
    },
  };
}

/** Runs `fn` while sampling; returns `{result, peakMiB}`. */
export async function withPeakMemory(fn, intervalMs) {
  const sampler = sampleMemory(intervalMs);
  try {
    const result = await fn();
    return { result, peakMiB: await sampler.stop() };
  } catch (e) {
    await sampler.stop();
    throw e;
  }
}
