// The ceiling of extension messaging for page bytes: a content script sends
// 4 MiB ArrayBuffers over a runtime port to a service worker, or to an
// offscreen document, that only acknowledges them (tests/bench/messaging/).
// A store that receives page bytes this way, as ours does, cannot be faster,
// whatever hashes and writes them. The fixture's manifest is written here,
// into a copy: the repository has one authored manifest.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium } from '../../scripts/lib/chromium.mjs';

const FIXTURE = new URL('./messaging/', import.meta.url).pathname;

const MANIFEST = {
  manifest_version: 3,
  name: 'COS bench: messaging ceiling',
  version: '1',
  background: { service_worker: 'sw.js' },
  permissions: ['offscreen'],
  content_scripts: [{ matches: ['http://a.test/*'], js: ['content.js'], run_at: 'document_start' }],
  message_serialization: 'structured_clone',
};

/**
 * MB/s of `mib` MiB to the service worker and to the document, `rounds`
 * times each, alternating: `{serviceWorker: number[], document: number[]}`.
 * @param {{origin(host: string): string}} server
 */
export async function messagingBench(server, mib = 1024, rounds = 3) {
  const dir = await mkdtemp(join(tmpdir(), 'cos-bench-messaging-'));
  const extensionDir = join(dir, 'extension');
  await cp(FIXTURE, extensionDir, { recursive: true });
  await writeFile(join(extensionDir, 'manifest.json'), JSON.stringify(MANIFEST));
  const context = await launchChromium(join(dir, 'profile'), {
    extension: false,
    args: [`--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`],
  });
  try {
    if (!context.serviceWorkers().length) await context.waitForEvent('serviceworker');
    const page = await context.newPage();
    await page.goto(`${server.origin('a.test')}/bench.html`);
    const run = (target) =>
      page.evaluate(
        ([target, mib]) =>
          new Promise((resolve) => {
            addEventListener('message', ({ data }) => data?.messagingBenchResult?.target === target && resolve(data.messagingBenchResult.MBps));
            postMessage({ messagingBench: target, mib });
          }),
        [target, mib],
      );
    const out = { mib, serviceWorker: [], document: [] };
    for (let round = 0; round < rounds; round++) {
      out.serviceWorker.push(await run('to-service-worker'));
      out.document.push(await run('to-document'));
    }
    return out;
  } finally {
    await context.close();
    await rm(dir, { recursive: true, force: true });
  }
}
