// Playwright fixtures: a fresh Chromium profile with the extension loaded
// from the repository root, and one server answering for every *.test origin.
import { test as base, expect } from '@playwright/test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './server.mjs';
import { EXTENSION_DIR, launchBrowser } from '../../scripts/lib/chromium.mjs';

export { EXTENSION_DIR, REPO_ROOT, launchBrowser, sizeBlobStore } from '../../scripts/lib/chromium.mjs';

export const test = base.extend({
  server: [
    async ({}, use) => {
      const server = await startServer();
      await use(server);
      await server.close();
    },
    { scope: 'worker' },
  ],
  userDataDir: async ({}, use) => {
    const dir = await mkdtemp(join(tmpdir(), 'cos-profile-'));
    await use(dir);
    await rm(dir, { recursive: true, force: true });
  },
  /** The unpacked extension each test loads (package.spec.mjs: the scripts/package zip, unpacked). */
  extensionDir: [EXTENSION_DIR, { option: true, scope: 'worker' }],
  context: async ({ server, userDataDir, extensionDir }, use) => {
    const context = await launchBrowser(userDataDir, server, { extensionDir });
    await use(context);
    await context.close();
  },
  /** The extension's service worker (waits for it to start). */
  serviceWorker: async ({ context }, use) => {
    const sw = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
    await use(sw);
  },
  /** Opens the test page on `host` (e.g. 'a.test'). */
  openPage: async ({ context, server }, use) => {
    await use(async (host, path = '/page.html') => {
      const page = await context.newPage();
      page.on('pageerror', (e) => console.log(`[${host}] page error: ${e.message}`));
      await page.goto(server.origin(host) + path);
      return page;
    });
  },
});

export { expect };
