// The browser's processes: every descendant of this Node process (Playwright
// starts Chromium as its child), and what each one does, from its command line.
import { readdir, readFile } from 'node:fs/promises';

/** Process roles, in the order the bench's tables print them. */
export const ROLES = ['browser', 'page renderers', 'extension renderer', 'other'];

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

/**
 * One of ROLES: the browser process relays messages and does file I/O, the
 * page's renderer runs the page and the content scripts, the extension's
 * renderer runs the service worker (and the extension's pages); "other" is
 * the GPU, network and storage utility processes. The Node helpers Playwright
 * starts are not Chromium and are left out (null).
 */
export async function roleOf(pid) {
  // Chromium rewrites its child processes' command lines into one string.
  const args = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!/chrom/.test(args.split(/[\0 ]/)[0])) return null;
  const type = args.match(/--type=([\w-]+)/)?.[1];
  if (!type) return 'browser';
  if (type === 'renderer') return /--extension-process\b/.test(args) ? 'extension renderer' : 'page renderers';
  return 'other';
}
