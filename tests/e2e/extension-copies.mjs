// Copies of the extension under test, each in a directory of its own and so
// with an extension id of its own: a test can change its files, or give it an
// enterprise policy, without touching the browsers other tests run.
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXTENSION_DIR } from './fixtures.mjs';
import { liveWorker, sleep } from './sw-tools.mjs';

/** A copy of the extension under test in a new directory (so a new extension id), changed by `edit(dir)`. */
export async function copyExtension(edit = async () => {}) {
  const dir = await mkdtemp(join(tmpdir(), 'cos-extension-'));
  for (const path of ['manifest.json', 'README.md', 'extension']) await cp(join(EXTENSION_DIR, path), join(dir, path), { recursive: true });
  await edit(dir);
  return dir;
}

/** Chromium's id for an unpacked extension: the SHA-256 of its absolute path, first 32 hex digits spelled a-p. */
export const unpackedId = (path) =>
  [...createHash('sha256').update(path).digest('hex').slice(0, 32)].map((h) => String.fromCharCode(97 + parseInt(h, 16))).join('');

export const POLICY_DIR = '/etc/chromium/policies/managed';

/**
 * Chromium reads its policy directory only once nothing in it changed for
 * 5 s, so policy tests running at once (one per Playwright worker) keep
 * delaying each other's policies, past any sensible wait. A lock directory
 * (made atomically by mkdir) lets one at a time write, use and remove its
 * file; one left by a crashed run is taken over after LOCK_STALE_MS.
 */
const POLICY_LOCK = join(tmpdir(), 'cos-test-policy.lock');
const LOCK_STALE_MS = 180_000;

async function lockPolicyDirectory() {
  for (;;) {
    try {
      await mkdir(POLICY_LOCK);
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      const since = await stat(POLICY_LOCK).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (since > LOCK_STALE_MS) await rm(POLICY_LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Writes a Chromium policy file for extension `id` and returns a function
 * removing it (and the directories, if this created them and they are empty).
 * The file names only this id, which only this test's copy of the extension
 * has, so other browsers running at the same time are not affected; other
 * policy tests wait until it is removed (see lockPolicyDirectory), or, with
 * `{release: false}` (a test that goes on without the policy), until it is
 * called again.
 */
export async function writeExtensionPolicy(id, policy) {
  await lockPolicyDirectory();
  let written = true;
  let held = true;
  const created = await mkdir(POLICY_DIR, { recursive: true });
  const file = join(POLICY_DIR, `cos-test-${id}.json`);
  await writeFile(file, JSON.stringify({ '3rdparty': { extensions: { [id]: policy } } }));
  return async ({ release = true } = {}) => {
    if (written) {
      written = false;
      await rm(file, { force: true });
      // Up to the first directory mkdir created; another run may have put a file there meanwhile.
      for (let dir = POLICY_DIR; created && dir.length >= created.length; dir = join(dir, '..')) {
        if (!(await rmdir(dir).then(() => true, () => false))) break;
      }
    }
    if (release && held) {
      held = false;
      await rm(POLICY_LOCK, { recursive: true, force: true });
    }
  };
}

/** How long a started browser may take to read its policy directory before it is started again. */
const POLICY_READ_MS = 30_000;
const POLICY_STARTS = 3;

/**
 * Starts a browser with `launch()` and resolves with its context once the
 * browser has read the extension's policy (chrome.storage.managed, asked in
 * the extension itself). Chromium usually has it 1-5 s after it starts; in
 * one full run the extension still had no policy after 45 s. A browser that
 * has not read the file is the browser's failure, not the extension's, so
 * such a start is closed after POLICY_READ_MS, said so, and retried. Whether
 * the extension then applies the policy is what the tests check, with their
 * own (shorter) waits, so a policy the extension misses still fails them.
 * @param {() => Promise<import('@playwright/test').BrowserContext>} launch
 */
export async function launchUnderPolicy(launch) {
  for (let start = 1; ; start++) {
    const context = await launch();
    const deadline = Date.now() + POLICY_READ_MS;
    while (Date.now() < deadline) {
      // The browser answers chrome.storage.managed once it has read its policies: the wait is bounded here.
      const read = (await liveWorker(context)).evaluate(() => chrome.storage.managed.get()).catch(() => ({}));
      const managed = await Promise.race([read, sleep(Math.max(0, deadline - Date.now())).then(() => ({}))]);
      if (Object.keys(managed).length > 0) return context;
      await sleep(250);
    }
    await context.close();
    if (start === POLICY_STARTS) throw new Error(`the browser read no policy for the extension in ${POLICY_STARTS} starts of ${POLICY_READ_MS} ms`);
    console.warn(`[policy] start ${start}: the browser read no policy in ${POLICY_READ_MS} ms; starting it again`);
  }
}
