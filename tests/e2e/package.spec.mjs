// The zip that scripts/package makes, unpacked and loaded as the extension
// (every other spec loads the repository root): a file the package leaves out
// fails here.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, expect, REPO_ROOT } from './fixtures.mjs';
import { writePackage } from '../../scripts/lib/package.mjs';
import { pagePath } from './server.mjs';

const test = base.extend({
  extensionDir: [
    async ({}, use) => {
      const dir = await mkdtemp(join(tmpdir(), 'cos-package-'));
      const zip = join(dir, 'extension.zip');
      writePackage(REPO_ROOT, zip);
      execFileSync('unzip', ['-q', zip, '-d', join(dir, 'unpacked')]);
      await use(join(dir, 'unpacked'));
      await rm(dir, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
});

test('the package holds the extension and nothing from the build or tests', async ({ extensionDir }) => {
  const files = execFileSync('find', ['.', '-type', 'f'], { cwd: extensionDir, encoding: 'utf8' }).trim().split('\n');
  expect(files).toContain('./manifest.json');
  expect(files).toContain('./extension/pkg/cos_wasm_bg.wasm');
  expect(files.filter((f) => /^\.\/(node_modules|target|\.cache|tests|scripts|crates|dist)\//.test(f) || f.endsWith('.d.ts'))).toEqual([]);
});

test('the unpacked package stores on one site and serves another that was granted', async ({ openPage, server, serviceWorker }) => {
  expect(serviceWorker.url()).toMatch(/^chrome-extension:\/\/[a-p]{32}\/extension\/sw\.js$/);
  // The page's Cross-Origin-Storage-Allow-Origin header authorizes the list.
  const a = await openPage('a.test', pagePath({ ao: server.origin('b.test') }));
  const hex = await a.evaluate((b) => storeBytes(patternBytes(4000, 7), { origins: [b] }), server.origin('b.test'));
  const b = await openPage('b.test');
  expect((await b.evaluate((v) => outcome(() => readBack(v)), hex)).ok).toEqual({ size: 4000, hash: hex, name: hex });
});

test('the packaged popup and settings load every file they use', async ({ context, serviceWorker }) => {
  const base = `chrome-extension://${new URL(serviceWorker.url()).host}/extension/ui/`;
  const failures = [];
  context.on('requestfailed', (request) => failures.push(`${request.url()}: ${request.failure()?.errorText}`));
  for (const [page, shown] of [['popup.html', '#total-files'], ['options.html', '#usage']]) {
    const tab = await context.newPage();
    tab.on('pageerror', (e) => failures.push(`${page}: ${e.message}`));
    await tab.goto(base + page);
    await expect(tab.locator(shown)).not.toBeEmpty();
    // Links open other packaged files (the popup's README link).
    for (const href of await tab.locator('a[href^="chrome-extension:"]').evaluateAll((links) => links.map((a) => a.href))) {
      expect(await tab.evaluate(async (url) => (await fetch(url)).ok, href), href).toBe(true);
    }
  }
  expect(failures).toEqual([]);
});
