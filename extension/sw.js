// Service worker: lifecycle and routing only. The Wasm engine owns every
// rule; worker/ modules do the I/O it asks for.
//
// MV3 constraints shape this file: listeners must be registered synchronously
// at top level, and module workers may not use top-level await or import(),
// so start-up is a promise that every handler awaits.

import init, { Store } from './pkg/cos_wasm.js';
import { blobsDir, clearTmp, listFiles, removeQuietly } from './worker/opfs.js';
import { loadPersisted, saveChanges } from './worker/persist.js';
import { createPageTier } from './worker/page-tier.js';
import { createExtensionTier } from './worker/extension-tier.js';
import { errorReply } from './worker/reply.js';

const EXTENSION_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

/** Share of the disk space the browser grants the extension used when the user set no budget. */
const DEFAULT_BUDGET_SHARE = 0.5;

const bundled = (name) => fetch(chrome.runtime.getURL(`extension/pkg/${name}`)).then((r) => r.text());

const ready = start();

async function start() {
  const [, phl, estimate] = await Promise.all([
    init({ module_or_path: chrome.runtime.getURL('extension/pkg/cos_wasm_bg.wasm') }),
    bundled('public_hash_list.txt'),
    navigator.storage.estimate(),
  ]);
  const store = new Store(phl, crypto.randomUUID());
  store.setDefaultBudget(Math.floor(estimate.quota * DEFAULT_BUDGET_SHARE));
  const skipped = store.restore(JSON.stringify(await loadPersisted()));
  if (skipped) console.warn(`ignored ${skipped} malformed index records`);

  // Make the index and the files agree before answering anyone: no write
  // survives a restart, and a crash (or a damaged disk) can leave bytes
  // without an entry, an entry without bytes, or a file of the wrong size.
  await clearTmp();
  const blobs = await blobsDir();
  const { deleteFiles, droppedEntries } = JSON.parse(store.reconcile(JSON.stringify(await listFiles(blobs))));
  await Promise.all(deleteFiles.map((name) => removeQuietly(blobs, name)));
  await saveChanges(store.drainChanges());
  if (deleteFiles.length || droppedEntries) {
    console.warn(`reconciled: removed ${deleteFiles.length} orphaned files, ${droppedEntries} entries without bytes`);
  }
  return { store, page: createPageTier(store), extension: createExtensionTier(store) };
}

/** Which trust tier a message comes from, judged only by what the browser reports. */
function tierOf(sender) {
  if (sender.id !== chrome.runtime.id) return null;
  // The extension's own pages (popup, settings; in a tab or not). No web page
  // can have this origin, and none of our pages is web-accessible.
  if (sender.origin === EXTENSION_ORIGIN && sender.url?.startsWith(`${EXTENSION_ORIGIN}/`)) return 'extension';
  // A content script in some frame of a tab; `origin` is that frame's origin
  // ("null" when opaque, which the engine refuses).
  if (sender.tab && typeof sender.origin === 'string') return 'page';
  return null;
}

// The extension's own pages (popup, settings) send one message per request.
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (tierOf(sender) !== 'extension') return false;
  ready
    .then((tiers) => tiers.extension.handle(message))
    .then(sendResponse, (e) => sendResponse(errorReply(e)))
    .finally(keepAliveWhileWriting);
  return true;
});

// Content scripts keep one port per frame (see content/bridge.js). The port's
// sender is fixed by the browser when it opens, so every request on it comes
// from that frame's origin. Write sessions opened through a port end with it:
// a frame that navigated away or closed can never finish them.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== 'cross-origin-storage' || tierOf(port.sender) !== 'page') return port.disconnect();
  const caller = port.sender.origin;
  port.onMessage.addListener((message) => {
    ready
      .then((tiers) => tiers.page.handle(message, caller, port))
      .catch(errorReply)
      .then((reply) => port.postMessage({ ...reply, id: message?.id }))
      .catch(() => {}) // the frame went away before the reply
      .finally(keepAliveWhileWriting);
  });
  port.onDisconnect.addListener(() => ready.then((tiers) => tiers.page.release(port)));
});

// A write that pauses longer than the 30 s idle limit must not lose its
// session: while any writable is open, an extension API call every 20 s
// resets the idle timer, and idle sessions are expired here too.
let keepAlive = null;
async function keepAliveWhileWriting() {
  const { store, page } = await ready;
  if (store.openSessions() > 0 && !keepAlive) {
    keepAlive = setInterval(async () => {
      chrome.runtime.getPlatformInfo();
      await page.expireIdle();
      if (store.openSessions() === 0) {
        clearInterval(keepAlive);
        keepAlive = null;
      }
    }, 20_000);
  }
}
