// Browser memory as the issue defines it: the sum of PSS over every Chromium
// process (browser, renderers, GPU, utilities), read from
// /proc/<pid>/smaps_rollup, also split by process role (processes.mjs) to
// show where it goes.
import { readFile } from 'node:fs/promises';
import { descendants, roleOf, ROLES } from './processes.mjs';

/** kB of PSS (RSS where smaps_rollup is unavailable) of one process, 0 if it is gone. */
async function pssKb(pid) {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null);
  const match = text?.match(/^Pss:\s+(\d+) kB/m);
  if (match) return Number(match[1]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(status.match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0);
}

/** `{total, byRole: {role: MiB}}`: PSS in MiB of the browser's processes now. */
export async function browserMemory() {
  const byRole = Object.fromEntries(ROLES.map((role) => [role, 0]));
  await Promise.all(
    (await descendants()).map(async (pid) => {
      const [role, kb] = await Promise.all([roleOf(pid), pssKb(pid)]);
      if (role) byRole[role] += kb / 1024;
    }),
  );
  return { total: Object.values(byRole).reduce((a, b) => a + b, 0), byRole };
}

/** Total PSS in MiB of the browser's processes. */
export async function browserMemoryMiB() {
  return (await browserMemory()).total;
}

/** Median of a few samples (by total), for an idle baseline: `{total, byRole}`. */
export async function idleMemory(samples = 5, gapMs = 300) {
  const values = [];
  for (let i = 0; i < samples; i++) {
    values.push(await browserMemory());
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return values.sort((a, b) => a.total - b.total)[Math.floor(values.length / 2)];
}

export async function idleMemoryMiB(samples, gapMs) {
  return (await idleMemory(samples, gapMs)).total;
}

/**
 * Idle memory once `page`'s renderer has collected its garbage (through
 * CDP): an earlier phase's leftovers, which V8 collects lazily, would
 * otherwise count as idle, and the phase that finally collects them would
 * show a negative peak. `{total, byRole}`.
 */
export async function idleAfterGc(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.detach();
  return idleMemory();
}

export async function idleAfterGcMiB(page) {
  return (await idleAfterGc(page)).total;
}

/**
 * Samples memory every `intervalMs` until stop(); stop() resolves to
 * `{peakMiB, byRole}`: the highest total, and each role's own highest value
 * (roles peak at different moments, so these need not add up to the total).
 */
export function sampleMemory(intervalMs = 250) {
  let peak = 0;
  const byRole = Object.fromEntries(ROLES.map((role) => [role, 0]));
  const sample = async () => {
    const now = await browserMemory();
    peak = Math.max(peak, now.total);
    for (const role of ROLES) byRole[role] = Math.max(byRole[role], now.byRole[role]);
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await sample();
      return { peakMiB: peak, byRole };
    },
  };
}

/** Runs `fn` while sampling; returns `{result, peakMiB, byRole}`. */
export async function withPeakMemory(fn, intervalMs) {
  const sampler = sampleMemory(intervalMs);
  try {
    const result = await fn();
    return { result, ...(await sampler.stop()) };
  } catch (e) {
    await sampler.stop();
    throw e;
  }
}
