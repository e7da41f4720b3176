// CPU time of the browser's processes by role (processes.mjs), from
// /proc/<pid>/stat, to show where a workload's time goes.
import { readFile } from 'node:fs/promises';
import { descendants, roleOf } from './processes.mjs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** `{pid: {role, seconds, systemSeconds}}` of user+system CPU so far, for every browser process. */
export async function cpuSnapshot() {
  const out = {};
  for (const pid of await descendants()) {
    const [stat, role] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null), roleOf(pid)]);
    if (!stat || !role) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [user, system] = [Number(fields[11]), Number(fields[12])];
    out[pid] = { role, seconds: (user + system) / TICKS_PER_SECOND, systemSeconds: system / TICKS_PER_SECOND };
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
