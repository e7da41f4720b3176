// The two response headers the engine reads (`Permissions-Policy` and
// `Cross-Origin-Storage-Allow-Origin`), recorded per document as the browser
// delivered them, never as a page reports them.
//
// `webRequest` reports a frame's response before its document exists, so it
// carries no documentId: the response is held for its frame and bound to a
// document when `webNavigation.onCommitted` names the one that frame
// committed, if the URLs agree. A document keeps the headers it was bound to
// first: a back/forward-cache restore commits the same document again, and a
// later navigation's response must never be handed to it. The records live
// in chrome.storage.session (the worker stops when idle), per tab. Past
// MAX_DOCUMENTS_PER_TAB, the records of documents gone from the tab are
// dropped, oldest first, keeping the last pages that the back/forward cache
// may restore (only their top-level documents: a restored page's frames
// may then be refused until it reloads); a live document is never dropped.
//
// When in doubt the answer is the safe one, and the engine is told it is a
// doubt: a document with no record (a response a service worker served,
// which webRequest does not see; one that arrived while the worker could not
// hear it; two responses for its URL that disagree; a record evicted) has an
// "unknown" Permissions-Policy, which the engine counts as the narrowest
// declaration, and no Allow-Origin header, which shares a list with nobody.

/** @typedef {import('../pkg/cos_wasm.js').HeaderFact} HeaderFact */
/** @typedef {{permissionsPolicy: string | null, allowOrigin: string | null}} Headers */
/** @typedef {Headers & {topLevel: boolean}} DocumentRecord */

const PERMISSIONS_POLICY = 'permissions-policy';
const ALLOW_ORIGIN = 'cross-origin-storage-allow-origin';
/** Records per tab beyond which those of documents gone from it are dropped (frames come and go). */
const MAX_DOCUMENTS_PER_TAB = 256;
/** Top-level documents gone from a tab that are kept: Chromium's back/forward cache holds at most 6 pages. */
const MAX_CACHED_PAGES = 8;
/** Responses held per frame until one commits (a frame may start several navigations). */
const MAX_PENDING_PER_FRAME = 4;
const KEY_PREFIX = 'document-headers:';

/** @type {Map<string, Array<{url: string, headers: Headers}>>} responses by `${tabId}:${frameId}`, not yet committed */
const pending = new Map();
/** @type {Map<number, Map<string, DocumentRecord>>} tab id → documentId → headers, oldest first */
const byTab = new Map();
/** Resolves once the records the worker had before it last stopped are back. */
let restored = null;

const withoutFragment = (/** @type {string} */ url) => url.split('#')[0];
const isNetworkUrl = (/** @type {string} */ url) => /^https?:/i.test(url);

/** Starts recording; call once, synchronously, at the worker's top level. */
export function recordDocumentHeaders() {
  restored = chrome.storage.session.get(null).then((all) => {
    for (const [key, documents] of Object.entries(all)) {
      if (!key.startsWith(KEY_PREFIX)) continue;
      // Every change waits for this, so nothing newer is here yet.
      byTab.set(Number(key.slice(KEY_PREFIX.length)), new Map(Object.entries(/** @type {Record<string, DocumentRecord>} */ (documents))));
    }
  });
  /** @param {chrome.webRequest.OnHeadersReceivedDetails} details */
  const onHeaders = (details) => {
    const frame = `${details.tabId}:${details.frameId}`;
    const held = pending.get(frame) ?? [];
    held.push({ url: withoutFragment(details.url), headers: headersOf(details.responseHeaders ?? []) });
    pending.set(frame, held.slice(-MAX_PENDING_PER_FRAME));
  };
  chrome.webRequest.onHeadersReceived.addListener(
    // Only observing: the listener is not blocking, whatever it returns is ignored.
    /** @type {(details: chrome.webRequest.OnHeadersReceivedDetails) => chrome.webRequest.BlockingResponse} */ (onHeaders),
    { urls: ['http://*/*', 'https://*/*'], types: ['main_frame', 'sub_frame'] },
    ['responseHeaders'],
  );
  chrome.webNavigation.onCommitted.addListener(async ({ tabId, frameId, documentId, url }) => {
    const frame = `${tabId}:${frameId}`;
    const held = (pending.get(frame) ?? []).filter((r) => r.url === withoutFragment(url));
    pending.delete(frame);
    const agreed = held.length > 0 && held.every((r) => sameHeaders(r.headers, held[0].headers));
    if (!agreed || !documentId || !isNetworkUrl(url)) return;
    await restored;
    const documents = byTab.get(tabId) ?? new Map();
    if (documents.has(documentId)) return;
    documents.set(documentId, { ...held[0].headers, topLevel: frameId === 0 });
    byTab.set(tabId, documents);
    if (documents.size > MAX_DOCUMENTS_PER_TAB) await dropGone(tabId, documents);
    await save(tabId);
  });
  chrome.tabs.onRemoved.addListener(async (tabId) => {
    for (const frame of pending.keys()) if (frame.startsWith(`${tabId}:`)) pending.delete(frame);
    await restored;
    byTab.delete(tabId);
    await save(tabId);
  });
  // A tab whose contents were swapped for another's (a prerendered page
  // shown in place of the current one) keeps its documents, under the new id.
  chrome.tabs.onReplaced.addListener(async (addedTabId, removedTabId) => {
    await restored;
    const documents = byTab.get(removedTabId);
    byTab.delete(removedTabId);
    if (documents) byTab.set(addedTabId, new Map([...(byTab.get(addedTabId) ?? []), ...documents]));
    await Promise.all([save(removedTabId), save(addedTabId)]);
  });
}

/**
 * What the browser delivered with the document `documentId` (at `url`) in tab `tabId`.
 * @returns {Promise<{permissionsPolicy: HeaderFact, allowOrigin: string | null}>}
 */
export async function documentHeaders(tabId, documentId, url) {
  // about:blank, about:srcdoc, data: and blob: documents have no response headers.
  if (!isNetworkUrl(url)) return { permissionsPolicy: { kind: 'absent' }, allowOrigin: null };
  await restored;
  const headers = byTab.get(tabId)?.get(documentId);
  if (!headers) return { permissionsPolicy: { kind: 'unknown' }, allowOrigin: null };
  const { permissionsPolicy, allowOrigin } = headers;
  return {
    permissionsPolicy: permissionsPolicy === null ? { kind: 'absent' } : { kind: 'present', value: permissionsPolicy },
    allowOrigin,
  };
}

/**
 * Drops the records of documents no longer in tab `tabId`, oldest first,
 * down to half the limit (so that this is not done at every commit), except
 * the newest MAX_CACHED_PAGES top-level ones.
 * @param {number} tabId
 * @param {Map<string, DocumentRecord>} documents
 */
async function dropGone(tabId, documents) {
  const live = new Set(((await chrome.webNavigation.getAllFrames({ tabId })) ?? []).map((f) => f.documentId));
  const pages = [...documents].filter(([id, record]) => record.topLevel && !live.has(id)).map(([id]) => id);
  const cached = new Set(pages.slice(-MAX_CACHED_PAGES));
  for (const id of documents.keys()) {
    if (documents.size <= MAX_DOCUMENTS_PER_TAB / 2) break;
    if (!live.has(id) && !cached.has(id)) documents.delete(id);
  }
}

/**
 * The two headers, each field's lines joined as HTTP combines them.
 * @param {chrome.webRequest.HttpHeader[]} responseHeaders
 * @returns {Headers}
 */
function headersOf(responseHeaders) {
  const field = (/** @type {string} */ name) => {
    const lines = responseHeaders.filter((h) => h.name.toLowerCase() === name).map((h) => h.value ?? '');
    return lines.length ? lines.join(', ') : null;
  };
  return { permissionsPolicy: field(PERMISSIONS_POLICY), allowOrigin: field(ALLOW_ORIGIN) };
}

/** @param {Headers} a @param {Headers} b */
const sameHeaders = (a, b) => a.permissionsPolicy === b.permissionsPolicy && a.allowOrigin === b.allowOrigin;

/** Writes tab `tabId`'s records (or removes them) in chrome.storage.session. */
async function save(/** @type {number} */ tabId) {
  const documents = byTab.get(tabId);
  const key = KEY_PREFIX + tabId;
  // A failed write (the session area is full) loses records, which only turns them into doubts.
  await (documents ? chrome.storage.session.set({ [key]: Object.fromEntries(documents) }) : chrome.storage.session.remove(key)).catch(
    (e) => console.warn('cross-origin storage: could not keep the headers of a tab', e),
  );
}
