// CPU time of the browser's processes by role, from /proc/<pid>/stat, to show
// where a workload's time goes: the browser process relays messages and does
// file I/O, the page's renderer runs the page and the content scripts, the
// extension's renderer runs the service worker.
import { readFile } from 'node:fs/promises';
import { descendants } from './memory.mjs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

async function roleOf(pid) {
  // Chromium rewrites its child processes' command lines into one string.
  const args = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  const type = args.match(/--type=([\w-]+)/)?.[1];
  if (!type) return 'browser';
  if (type === 'renderer') return /--extension-process\b/.test(args) ? 'extension renderer' : 'page renderers';
  return 'other';
}

/** `{pid: {role, seconds, systemSeconds}}` of user+system CPU so far, for every browser process. */
export async function cpuSnapshot() {
  const out = {};
  for (const pid of await descendants()) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = [Number(fields[11]), Number(fields[12])];
    out[pid] = { role: await roleOf(pid), seconds: (user + system) / TICKS_PER_SECOND, systemSeconds: system / TICKS_PER_SECOND };
  }
  return out;
}

/** CPU seconds spent by role between two snapshots: `{role: {seconds, systemSeconds}}`. */
export function cpuSpent(before, after) {
  const byRole = {};
  for (const [pid, now] of Object.entries(after)) {
    const then = before[pid] ?? { seconds: 0, systemSeconds: 0 };
    const sum = (byRole[now.role] ??= { seconds: 0, systemSeconds: 0 });
    sum.seconds += now.seconds - then.seconds;
    sum.systemSeconds += now.systemSeconds - then.systemSeconds;
  }
  return byRole;
}
