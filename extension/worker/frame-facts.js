// What the engine needs to know about a caller that only the browser can
// tell: the frames from the top-level document down to the caller's, each
// one's origin, the response headers of its document (document-headers.js),
// and the element holding it in its parent's document, with its `allow`
// attribute (asked of the parent's content script, content/container.js).
// Never what a framed page says about itself.
//
// Gathered once per port, when it opens: a frame keeps one port for its
// document, and a document's chain cannot change while it lives (a
// navigating ancestor takes its descendants, and their ports, with it).
// Anything that cannot be established is reported as unknown, which the
// engine refuses.

import { documentHeaders } from './document-headers.js';

/** @typedef {import('../pkg/cos_wasm.js').Caller} Caller */
/** @typedef {import('../pkg/cos_wasm.js').ContainerFact} ContainerFact */
/** @typedef {chrome.webNavigation.GetAllFrameResultDetails} FrameDetails */

/** How long a parent's content script may take to name the element holding a child frame. */
const CONTAINER_TIMEOUT_MS = 2000;
/** @type {ContainerFact} */
const UNKNOWN = { kind: 'unknown' };

/**
 * The facts about the frame behind `sender` (a port's sender); the engine's
 * channel number goes with each request.
 * @param {chrome.runtime.MessageSender} sender
 * @returns {Promise<Omit<Caller, 'channel'>>}
 */
export async function callerFacts(sender) {
  const origin = /** @type {string} */ (sender.origin);
  try {
    const tabId = /** @type {number} */ (sender.tab?.id);
    const chain = chainOf((await chrome.webNavigation.getAllFrames({ tabId })) ?? [], sender);
    const origins = originsOf(chain, origin);
    const [headers, containers] = await Promise.all([
      Promise.all(chain.map((frame) => documentHeaders(tabId, frame.documentId, frame.url))),
      // containers[i] holds chain[i + 1].
      Promise.all(chain.slice(1).map((child, i) => containerOf(tabId, chain[i], child))),
    ]);
    const ancestors = chain.slice(0, -1).map((_, i) => ({
      origin: origins[i],
      permissionsPolicy: headers[i].permissionsPolicy,
      ...(i > 0 && { container: containers[i - 1] }),
    }));
    const own = /** @type {typeof headers[number]} */ (headers.at(-1));
    return {
      origin,
      permissionsPolicy: own.permissionsPolicy,
      ...(containers.length > 0 && { container: containers.at(-1) }),
      ancestors,
      ...(own.allowOrigin !== null && { allowOrigin: own.allowOrigin }),
    };
  } catch (e) {
    console.warn('cross-origin storage: the facts about a frame could not be established; it is refused', e);
    return { origin, permissionsPolicy: { kind: 'unknown' }, ancestors: [] };
  }
}

/**
 * The top-level document of the tab `sender`'s frame is in (for the
 * developer tools' record, worker/call-log.js), as of now: ask when the
 * frame's port opens.
 * @param {chrome.runtime.MessageSender} sender
 * @returns {Promise<string>}
 */
export async function topDocumentOf(sender) {
  if (sender.frameId === 0) return /** @type {string} */ (sender.documentId);
  const frames = (await chrome.webNavigation.getAllFrames({ tabId: /** @type {number} */ (sender.tab?.id) })) ?? [];
  return chainOf(frames, sender)[0].documentId;
}

/**
 * The frames from the top-level one down to `sender`'s, checked to be the
 * documents that are there now.
 * @param {FrameDetails[]} frames
 * @param {chrome.runtime.MessageSender} sender
 */
function chainOf(frames, sender) {
  const byId = new Map(frames.map((f) => [f.frameId, f]));
  /** @type {FrameDetails[]} */
  const chain = [];
  for (let frame = byId.get(/** @type {number} */ (sender.frameId)); frame; frame = byId.get(frame.parentFrameId)) {
    if (chain.includes(frame)) throw new Error('the frame tree has a cycle');
    chain.unshift(frame);
  }
  if (chain.at(-1)?.documentId !== sender.documentId) throw new Error('the frame has another document now');
  if (chain[0].parentFrameId !== -1) throw new Error('the frame tree is incomplete');
  return chain;
}

/**
 * Each frame's origin: the browser's for the caller; from the URL for the
 * frames above (about:blank and about:srcdoc inherit their parent's; data:
 * and other URLs without a host are opaque). A sandboxed ancestor's opaque
 * origin does not show in its URL, but its sandbox reaches every frame below
 * it, so the caller's own origin is opaque then and the engine refuses it.
 * @param {FrameDetails[]} chain
 * @param {string} callerOrigin
 */
function originsOf(chain, callerOrigin) {
  /** @type {string[]} */
  const origins = [];
  for (const [i, frame] of chain.entries()) {
    if (i === chain.length - 1) origins.push(callerOrigin);
    else if (/^about:/i.test(frame.url)) origins.push(origins[i - 1] ?? 'null');
    else origins.push(URL.parse(frame.url)?.origin ?? 'null');
  }
  return origins;
}

/**
 * The element of `parent`'s document holding `child`: the parent's content
 * script is told to expect a one-time token and finds the element whose
 * window posts it; the child's content script posts it
 * (content/container.js). The token goes only to those two content scripts,
 * so no page can answer for a frame.
 * @param {number} tabId
 * @param {FrameDetails} parent
 * @param {FrameDetails} child
 * @returns {Promise<ContainerFact>}
 */
async function containerOf(tabId, parent, child) {
  const token = crypto.randomUUID();
  const at = (/** @type {FrameDetails} */ f) => ({ frameId: f.frameId, documentId: f.documentId });
  const ask = async () => {
    if ((await chrome.tabs.sendMessage(tabId, { expect: token }, at(parent))) !== true) return UNKNOWN;
    const [answer] = await Promise.all([
      chrome.tabs.sendMessage(tabId, { containerOf: token }, at(parent)),
      chrome.tabs.sendMessage(tabId, { announceTo: token }, at(child)),
    ]);
    return containerFact(answer);
  };
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer')), CONTAINER_TIMEOUT_MS)));
  try {
    return await Promise.race([ask(), timeout]);
  } catch {
    // A parent or child without our content script (about:blank, srcdoc,
    // data:, a page that just navigated) cannot tell: unknown.
    return UNKNOWN;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A content script's answer, checked for shape.
 * @param {any} answer
 * @returns {ContainerFact}
 */
function containerFact(answer) {
  if (answer?.kind === 'other') return { kind: 'other' };
  const allow = answer?.allow;
  if (answer?.kind === 'iframe' && typeof answer.srcOrigin === 'string' && (allow === null || typeof allow === 'string')) {
    return { kind: 'iframe', allow, srcOrigin: answer.srcOrigin };
  }
  return UNKNOWN;
}
