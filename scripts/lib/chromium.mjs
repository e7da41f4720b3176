// The one Chromium launcher of the repository (tests, demo and bench): Debian's
// Chromium (never a downloaded browser), a persistent profile, the unpacked
// extension, and *.test names resolved to this machine.
import { chromium } from '@playwright/test';
import { CONTENT_SCRIPTS } from '../../extension/worker/content-scripts.js';

export const REPO_ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
/** The unpacked extension under test: the repository root unless overridden (mutation checks). */
export const EXTENSION_DIR = process.env.COS_EXTENSION_DIR || REPO_ROOT;

/** Hosts treated as secure contexts; anything else on http is insecure. */
export const SECURE_HOSTS = ['a.test', 'sub.a.test', 'b.test', 'c.test'];

export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP *.test 127.0.0.1',
];

/**
 * Debian's Chromium on `userDataDir`, with the unpacked extension in
 * `extensionDir` unless `extension` is false. Its blob store is sized
 * (see sizeBlobStore) unless `sizedBlobStore` is false. Playwright turns the
 * back/forward cache off; `backForwardCache` leaves it on, as for users.
 */
export async function launchChromium(
  userDataDir,
  { extension = true, extensionDir = EXTENSION_DIR, headed = false, args = [], sizedBlobStore = true, backForwardCache = false } = {},
) {
  const flags = [...CHROMIUM_FLAGS.filter((flag) => !(headed && flag === '--headless=new')), ...args];
  if (extension) flags.push(`--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: false,
    args: flags,
    ignoreDefaultArgs: ['--disable-extensions', ...(backForwardCache ? ['--disable-back-forward-cache'] : [])],
  });
  // As for a user, pages come once the extension runs: one that commits
  // before its worker listens has no headers on record and is refused
  // (extension/worker/document-headers.js), and one that loads before the
  // first registration of the content scripts has no API.
  if (extension) await contentScriptsRegistered(context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker')));
  if (sizedBlobStore) await sizeBlobStore(context);
  return context;
}

/**
 * Waits until the extension's worker `sw` has registered its content scripts
 * (at its first start; later starts find them registered).
 */
export async function contentScriptsRegistered(sw, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await sw.evaluate(() => chrome.scripting.getRegisteredContentScripts())).length < CONTENT_SCRIPTS.length) {
    if (Date.now() > deadline) throw new Error('the extension registered no content scripts');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Makes a freshly launched browser behave like a user's, which has long
 * finished starting up. Chromium sizes its blob store (2 GiB of memory, then
 * disk) in a best-effort task, and best-effort tasks wait for the end of
 * startup: a visible tab loaded and idle, or 3 minutes. Until then it allows
 * 500 MiB in memory and no disk, so a `new Blob(parts)` of more breaks and
 * reading it throws NotReadableError, with or without the extension (issue
 * 14, blob-regression.spec.mjs); a test whose page is busy from the start
 * stays in that state. Building a Blob from a stream waits for the sizing and
 * so starts it at once: one byte's worth, in the first tab (about 50 ms).
 */
export async function sizeBlobStore(context) {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.evaluate(() => new Response(new Blob(['x']).stream()).blob());
}

/**
 * Chromium for the test origins of `server`: SECURE_HOSTS (and the origins in
 * `options.secure`) are secure contexts, other *.test hosts are not.
 */
export function launchBrowser(userDataDir, server, { secure = [], args = [], ...options } = {}) {
  const origins = [...SECURE_HOSTS.map((h) => server.origin(h)), ...secure].join(',');
  return launchChromium(userDataDir, { ...options, args: [`--unsafely-treat-insecure-origin-as-secure=${origins}`, ...args] });
}
