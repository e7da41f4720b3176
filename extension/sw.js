// Service worker: lifecycle and routing only. The Wasm engine owns every
// rule and sequences every request; worker/ modules perform the steps.
//
// MV3 constraints shape this file: listeners must be registered synchronously
// at top level, and module workers may not use top-level await or import(),
// so start-up is a promise that every handler awaits.

import init, { Store } from './pkg/cos_wasm.js';
import { loadPersisted, lockDown, profileRecords, writesOf } from './worker/persist.js';
import { createRunner } from './worker/runner.js';
import { createStorage } from './worker/storage.js';
import { DEVTOOLS_PORT_NAME, PORT_NAME, transportError } from './worker/wire.js';
import { createPublicLists } from './worker/public-list.js';
import { recordDocumentHeaders } from './worker/document-headers.js';
import { callerFacts, topDocumentOf } from './worker/frame-facts.js';
import { createCallLog } from './worker/call-log.js';
import { createSiteSwitch } from './worker/site-switch.js';
import { startProbePolicy } from './worker/probe-policy.js';
import { closeLeftoverCopier, COPY_FROM_BYTES } from './worker/copier.js';

const EXTENSION_ORIGIN = new URL(chrome.runtime.getURL('')).origin;

/** Share of the disk space the browser grants the extension used when the user set no budget. */
const DEFAULT_BUDGET_SHARE = 0.5;

/** The Public Hash List shipped with the extension. */
const BUNDLED_LIST = chrome.runtime.getURL('extension/pkg/public_hash_list.txt');

const siteSwitch = createSiteSwitch();
const publicLists = createPublicLists(BUNDLED_LIST, () => ready.then(({ store }) => store), announceChange);
const ready = start();
// Before any document it will be asked about commits.
recordDocumentHeaders();
/** What each tab's calls were and why they were answered so: for the DevTools panel only. */
const calls = createCallLog();
calls.followTabs();
// Install, update and browser start wake the worker, whose start registers
// the content scripts (they give pages the API) if they are not registered.
chrome.runtime.onInstalled.addListener(() => ready);
chrome.runtime.onStartup.addListener(() => ready);

async function start() {
  await lockDown();
  const records = profileRecords();
  const [, estimate, persisted] = await Promise.all([
    init({ module_or_path: chrome.runtime.getURL('extension/pkg/cos_wasm_bg.wasm') }),
    navigator.storage.estimate(),
    loadPersisted(records),
  ]);
  const store = new Store(crypto.getRandomValues(new Uint8Array(32)));
  const restored = store.restore(persisted);
  // Pages get the API only once the content scripts are registered (first
  // install, update): not held up by the Public Hash List.
  const switched = siteSwitch.startUp(store);
  // A list that does not verify lists nothing (fail closed), never stops the store.
  await publicLists.startUp(store).catch((e) => console.error('no Public Hash List loaded', e));
  store.setDefaultBudget(Math.floor((estimate.quota ?? 0) * DEFAULT_BUDGET_SHARE));
  if (restored.skippedEntries || restored.reset.length) {
    console.warn(`ignored ${restored.skippedEntries} malformed index entries; reset to defaults: ${restored.reset.join(', ') || 'nothing'}`);
  }
  const persist = async (/** @type {import('./pkg/cos_wasm.js').Changes} */ changes) => {
    await records.apply(writesOf(changes));
    announceChange();
  };
  const runner = createRunner(store, createStorage(store, persist));
  // Large files are written and digested by the offscreen copier (worker/copier.js).
  // Not in incognito: its split instance keeps its files in its own
  // in-memory storage, which an offscreen document is not known to share.
  store.setCopierFrom(chrome.extension.inIncognitoContext ? null : COPY_FROM_BYTES);
  // The sites turned off and the probe budget (the policy's as last read) hold
  // before anyone is answered; a copier left by the previous instance lets go
  // of its files before start-up clears the temporary ones.
  await Promise.all([switched, startProbePolicy(store), closeLeftoverCopier()]);
  // Storage and index agree before anyone is answered.
  await runner.run(store.startUp(Date.now()));
  return { store, runner };
}

/**
 * Which trust tier a message comes from, judged only by what the browser reports.
 * @param {chrome.runtime.MessageSender | undefined} sender
 */
function tierOf(sender) {
  if (sender?.id !== chrome.runtime.id) return null;
  // The extension's own pages (popup, settings; in a tab or not). No web page
  // can have this origin, and none of our pages is web-accessible.
  if (sender.origin === EXTENSION_ORIGIN && sender.url?.startsWith(`${EXTENSION_ORIGIN}/`)) return 'admin';
  // A content script in some frame of a tab; `origin` is that frame's origin
  // ("null" when opaque, which the engine refuses).
  if (sender.tab && typeof sender.origin === 'string') return 'page';
  return null;
}

// The admin tier: the extension's own pages send one message per request.
// From a content script, the one message is a trusted user gesture in its
// frame (content/bridge.js): that site's probe budget starts afresh.
chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  const tier = tierOf(sender);
  if (tier === 'page' && message?.activation === true) {
    ready.then(({ store, runner }) => runner.run(store.activate(/** @type {string} */ (sender.origin), Date.now())));
    return false;
  }
  if (tier !== 'admin') return false;
  const refused = siteSwitch.refusal(message?.request);
  if (refused) {
    sendResponse(refused);
    return false;
  }
  if (message?.publicList) {
    publicLists.handle(message.publicList).then(sendResponse);
    return true;
  }
  ready
    .then(({ store, runner }) => runner.run(store.admin(message?.request, Date.now())))
    // A site turned off or on: the content scripts follow before the answer.
    .then(({ reply }) => siteSwitch.sync().then(() => sendResponse(reply)), (e) => sendResponse(transportError(e)))
    .finally(keepAliveWhileWriting);
  return true;
});

/** Numbers the page channels; the engine binds write sessions to them. */
let nextChannel = 0;
/** Twice what the bridge keeps per frame (content/bridge.js MAX_CHANNELS). */
const MAX_CHANNELS_PER_FRAME = 64;

// Content scripts keep one port per frame (see content/bridge.js), carrying
// that frame's page channels (its window; later its workers), each message
// tagged with the channel's number in the frame. The port's sender is fixed
// by the browser when it opens, so every request on it comes from that
// frame's document: the facts about it (its frame chain, headers and
// container) are gathered once, here, not per request. Write sessions opened
// on a channel end with it: when the bridge closes the channel, or the frame
// navigates or closes (the port goes).
chrome.runtime.onConnect.addListener((port) => {
  // The DevTools panel (an extension page) watching one tab's calls.
  if (port.name === DEVTOOLS_PORT_NAME && tierOf(port.sender) === 'admin') {
    port.onMessage.addListener((message) => Number.isInteger(message?.watch) && calls.watch(port, message.watch));
    return;
  }
  if (port.name !== PORT_NAME || !port.sender || tierOf(port.sender) !== 'page') return port.disconnect();
  const facts = callerFacts(port.sender);
  // A frame whose tab could not be read is left out of the record, not refused.
  const topDocument = topDocumentOf(port.sender).catch(() => null);
  /** The engine's channel number for each of the frame's channels. */
  const channels = new Map();
  const channelOf = (/** @type {unknown} */ local) => {
    if (!channels.has(local)) {
      channels.set(local, ++nextChannel);
      // More than the bridge ever keeps (a compromised renderer): the oldest goes.
      for (const [oldest, channel] of channels) {
        if (channels.size <= MAX_CHANNELS_PER_FRAME) break;
        release(channel);
        channels.delete(oldest);
      }
    }
    return channels.get(local);
  };
  const release = async (/** @type {number} */ channel) => {
    const { store, runner } = await ready;
    for (const step of store.release(channel, Date.now())) runner.run(step);
  };
  port.onMessage.addListener(async (message) => {
    const local = typeof message?.channel === 'number' ? message.channel : 0;
    if (message?.closed === true) {
      if (channels.has(local)) release(channels.get(local));
      channels.delete(local);
      return;
    }
    const channel = channelOf(local);
    const data = message?.data instanceof Blob || message?.data instanceof ArrayBuffer ? message.data : undefined;
    const started = performance.now();
    let reply;
    let trace;
    let file;
    try {
      const { store, runner } = await ready;
      const first = store.page({ ...(await facts), channel }, message?.request, dataOf(data), Date.now());
      ({ reply, trace, context: { file } } = await runner.run(first, { data }));
    } catch (e) {
      reply = transportError(e);
    }
    try {
      port.postMessage({ ...reply, file, channel: local, id: message?.id });
    } catch {
      // The frame went away before the reply.
    }
    const sender = /** @type {chrome.runtime.MessageSender} */ (port.sender);
    topDocument.then((top) => top && calls.record(sender, top, { started, reply, trace, realm: message?.realm }));
    keepAliveWhileWriting();
  });
  port.onDisconnect.addListener(() => {
    for (const channel of channels.values()) release(channel);
  });
});

/** @type {ReturnType<typeof setTimeout> | null} */
let announcing = null;
/**
 * Tells the extension's own open pages (popup, settings) that the store
 * changed, at most every 100 ms. (Not chrome.storage.onChanged: an incognito
 * instance keeps its index elsewhere.)
 */
function announceChange() {
  announcing ??= setTimeout(() => {
    announcing = null;
    // Nobody listening (no popup open) is the usual case, not an error.
    chrome.runtime.sendMessage({ storeChanged: true }).catch(() => {});
  }, 100);
}

/**
 * What the engine needs to know about the bytes beside a request.
 * @param {Blob | ArrayBuffer | undefined} data
 * @returns {import('./pkg/cos_wasm.js').Data | undefined}
 */
function dataOf(data) {
  if (data instanceof Blob) return { kind: 'blob', size: data.size };
  if (data instanceof ArrayBuffer) return { kind: 'bytes', len: data.byteLength };
  return undefined;
}

// A write that pauses longer than the 30 s idle limit must not lose its
// session: while any writable is open, an extension API call every 20 s
// resets the idle timer, and idle sessions are expired here too.
/** @type {ReturnType<typeof setInterval> | null} */
let keepAlive = null;
async function keepAliveWhileWriting() {
  const { store, runner } = await ready;
  if (store.openSessions() > 0 && !keepAlive) {
    keepAlive = setInterval(() => {
      chrome.runtime.getPlatformInfo();
      for (const step of store.expireIdle(Date.now())) runner.run(step);
      if (store.openSessions() === 0 && keepAlive) {
        clearInterval(keepAlive);
        keepAlive = null;
      }
    }, 20_000);
  }
}
