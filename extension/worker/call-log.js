// The record the DevTools panel shows (ui/panel.js): every call a tab's
// frames (and the workers they relay for) made, with the engine's trace of
// why it was answered as it was. Only the person at the keyboard may see
// it, so:
//
// - it lives in this worker's memory only, never on disk: an incognito
//   window's worker (split mode) is another instance with its own record;
// - it is kept per tab, and per top-level document: a tab's record holds
//   only calls made by the document it shows now and that document's
//   frames. A new top-level document (a navigation, a reload, a
//   back/forward restore) starts it afresh, so no call of the previous site
//   is shown beside the next one's. Same-document navigations (fragments,
//   history.pushState) keep it: the document, and its frames, are the same.
// - only the extension's own pages can watch it (sw.js: the admin tier).
//
// Calls are attributed to the top-level document their frame was in when its
// port opened (frame-facts.js topDocumentOf), not to whatever the tab shows
// when they finish: a read answered after its page navigated away is dropped
// with the old document's record, never added to the new one's.
//
// A panel stays connected through a port. This worker stops when idle (and
// its record with it; the panel keeps what it was shown): when it records a
// call for a tab nobody watches, it tells the extension's pages, so a panel
// whose port closed connects again and gets the call.

/** Calls kept per tab; the oldest go first. Each call is bounded (see `entry`). */
export const MAX_CALLS_PER_TAB = 1000;
/** Characters of a reply message or a frame URL kept (the page supplies parts of both). */
const MAX_TEXT = 300;
/** Top-level documents a tab left that are remembered, so their late calls are dropped. */
const MAX_RETIRED = 32;
/** A tab nobody watches is announced at most this often. */
const ANNOUNCE_INTERVAL_MS = 1000;

/**
 * @typedef {import('../pkg/cos_wasm.js').Trace} Trace
 * @typedef {import('../pkg/cos_wasm.js').Reply} Reply
 * @typedef {{
 *   instance: string, seq: number, time: number, ms: number, frameId: number, documentId: string, topDocumentId: string,
 *   origin: string, url: string, realm: Realm, reply: {ok: boolean, name?: string, code?: string, message?: string},
 *   trace: Trace,
 * }} Call
 * @typedef {{kind: 'window' | 'dedicated' | 'shared', url?: string}} Realm the window or worker that called (a worker by its script URL)
 * @typedef {{
 *   top: string | null, retired: string[], calls: Call[], watchers: Set<chrome.runtime.Port>, announced: number,
 * }} TabRecord
 */

export function createCallLog() {
  /** @type {Map<number, TabRecord>} */
  const tabs = new Map();
  /** With `seq`, names a call uniquely across this worker's restarts (the panel merges what it is sent). */
  const instance = crypto.randomUUID();
  let seq = 0;

  /** @param {number} tabId */
  const recordOf = (tabId) => {
    let record = tabs.get(tabId);
    if (!record) tabs.set(tabId, (record = { top: null, retired: [], calls: [], watchers: new Set(), announced: -Infinity }));
    return record;
  };

  /** Tells the tab's watchers (panels) something; a watcher that went away is dropped. */
  const tell = (/** @type {TabRecord} */ record, /** @type {object} */ message) => {
    for (const port of record.watchers) {
      try {
        port.postMessage(message);
      } catch {
        record.watchers.delete(port);
      }
    }
  };

  /**
   * The tab shows top-level document `documentId` from now on: the previous
   * document's calls go (and the panels are told to start afresh).
   * @param {number} tabId
   * @param {string} documentId
   */
  function committed(tabId, documentId) {
    const record = recordOf(tabId);
    if (record.top === documentId) return;
    if (record.top !== null) record.retired = [...record.retired, record.top].slice(-MAX_RETIRED);
    record.top = documentId;
    record.calls = record.calls.filter((call) => call.topDocumentId === documentId);
    tell(record, { reset: true, top: documentId, calls: record.calls });
  }

  /**
   * One finished call from a frame of `tabId` whose top-level document is `topDocumentId`.
   * @param {chrome.runtime.MessageSender} sender the port's sender (the frame)
   * @param {string} topDocumentId
   * @param {{started: number, reply: Reply | null, trace: Trace | undefined, realm: unknown}} done
   *   `realm`: the window or worker the bridge tagged the channel with (a worker's
 *   calls come over a channel of its creating document's frame)
   */
  function record(sender, topDocumentId, { started, reply, trace, realm }) {
    const tabId = sender.tab?.id;
    if (tabId === undefined || tabId < 0) return;
    const tab = recordOf(tabId);
    if (tab.retired.includes(topDocumentId)) return;
    // Before the commit was reported (or the worker started after it): this is the tab's document.
    if (tab.top === null) tab.top = topDocumentId;
    const call = entry(sender, topDocumentId, started, reply, trace, realm);
    tab.calls.push(call);
    if (tab.calls.length > MAX_CALLS_PER_TAB) tab.calls.splice(0, tab.calls.length - MAX_CALLS_PER_TAB);
    if (tab.top !== topDocumentId) return;
    tell(tab, { call });
    const now = performance.now();
    if (tab.watchers.size === 0 && now - tab.announced >= ANNOUNCE_INTERVAL_MS) {
      tab.announced = now;
      // Nobody listening (no panel open) is the usual case, not an error.
      chrome.runtime.sendMessage({ callsRecorded: tabId }).catch(() => {});
    }
  }

  /**
   * @param {chrome.runtime.MessageSender} sender
   * @param {string} topDocumentId
   * @param {number} started
   * @param {Reply | null} reply
   * @param {Trace | undefined} trace
   * @param {unknown} realm
   */
  function entry(sender, topDocumentId, started, reply, trace, realm) {
    const error = reply && 'error' in reply ? reply.error : null;
    return {
      instance,
      seq: ++seq,
      time: Date.now(),
      ms: Math.round((performance.now() - started) * 10) / 10,
      frameId: sender.frameId ?? 0,
      documentId: sender.documentId ?? '',
      topDocumentId,
      origin: sender.origin ?? 'null',
      url: (sender.url ?? '').slice(0, MAX_TEXT),
      // Bounded by the bridge, which built it (content/bridge.js realmOf).
      realm: /** @type {Realm} */ (realm ?? { kind: 'window' }),
      reply: error
        ? { ok: false, name: error.name, code: error.code, message: String(error.message).slice(0, MAX_TEXT) }
        : { ok: Boolean(reply?.ok) },
      trace: trace ?? {},
    };
  }

  /**
   * A panel watches `tabId`: it gets the calls so far, then each new one.
   * @param {chrome.runtime.Port} port
   * @param {number} tabId
   */
  function watch(port, tabId) {
    const record = recordOf(tabId);
    record.watchers.add(port);
    port.onDisconnect.addListener(() => record.watchers.delete(port));
    const calls = record.calls.filter((call) => call.topDocumentId === record.top);
    port.postMessage({ top: record.top, calls });
  }

  /** The tab closed: its record goes. @param {number} tabId */
  function closed(tabId) {
    const record = tabs.get(tabId);
    if (!record) return;
    tell(record, { reset: true, top: null, calls: [] });
    tabs.delete(tabId);
  }

  /**
   * Follows the tabs' top-level documents (registered at the worker's top
   * level, as MV3 requires of listeners).
   */
  function followTabs() {
    chrome.webNavigation.onCommitted.addListener(({ tabId, frameId, documentId }) => {
      if (frameId === 0 && documentId) committed(tabId, documentId);
    });
    chrome.tabs.onRemoved.addListener(closed);
  }

  return { record, watch, followTabs };
}

