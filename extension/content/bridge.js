// Isolated-world relay between this frame's page API (api.js, MAIN world) and
// the service worker. It interprets nothing: the worker validates every
// request and learns the caller's origin from the browser, per frame. It
// also reports this frame's trusted user gestures (the probe budget's
// replenishment), which only the browser can produce.
'use strict';

/** Must match PORT_NAME in worker/wire.js (content scripts cannot import modules). */
const PORT_NAME = 'cross-origin-storage';
/**
 * Page channels one frame may keep open (its window, and the workers it will
 * relay for). Beyond this the oldest is closed: a page that connects in a
 * loop cannot make the worker keep state for it without limit.
 */
const MAX_CHANNELS = 32;

/**
 * All of this frame's page channels share one port to the worker, each
 * message tagged with its channel's number: a page cannot make the browser
 * open a port per connect. Opened on the first request, and again after the
 * worker restarts.
 * @type {chrome.runtime.Port | null}
 */
let worker = null;
let nextChannel = 0;
/** Open page channels by number, oldest first (Map keeps insertion order). */
const channels = new Map();

/** @param {string} message */
const unavailable = (message) => ({ ok: false, error: { name: 'InvalidStateError', code: 'unavailable', message } });

// The API is [SecureContext]: on an insecure page a network attacker could
// inject script, so the relay does not even listen there.
if (globalThis.isSecureContext) window.addEventListener('message', (event) => {
  // Only this frame's own window may connect. A message from another frame
  // (event.source is that frame) must never borrow this frame's origin.
  if (event.source !== window || event.data?.type !== 'cross-origin-storage:connect') return;
  const page = event.ports[0];
  if (!page) return;
  const channel = ++nextChannel;
  channels.set(channel, relay(channel, page));
  for (const [oldest, relayed] of channels) {
    if (channels.size <= MAX_CHANNELS) break;
    relayed.close();
    channels.delete(oldest);
  }
});

/** A trusted gesture is reported at most this often (the budget needs one, not each). */
const GESTURE_INTERVAL_MS = 1000;
let lastGesture = -Infinity;

/**
 * HTML's activation-triggering input events (keydown other than Escape,
 * mousedown, pointerdown from a mouse, pointerup from anything else,
 * touchend), if the browser generated them: `isTrusted` is false for every
 * event a page dispatches, and this listener, registered at document_start
 * in the capture phase, runs before any of the page's. The worker replenishes
 * this frame's site's probe budget; the message shape is one no page request
 * has (the relay wraps those as {channel, id, request, data}), and pages cannot
 * message the worker at all.
 * @param {Event} event
 */
function onGesture(event) {
  if (!event.isTrusted) return;
  const activating =
    event instanceof KeyboardEvent ? event.key !== 'Escape'
    : event instanceof PointerEvent ? (event.type === 'pointerdown') === (event.pointerType === 'mouse')
    : true;
  const now = performance.now();
  if (!activating || now - lastGesture < GESTURE_INTERVAL_MS) return;
  lastGesture = now;
  try {
    chrome.runtime.sendMessage({ activation: true }).catch(() => {});
  } catch {
    // The extension was reloaded or removed: nobody to tell.
  }
}

if (globalThis.isSecureContext) {
  for (const type of ['keydown', 'mousedown', 'pointerdown', 'pointerup', 'touchend']) {
    window.addEventListener(type, onGesture, { capture: true, passive: true });
  }
}

function openWorker() {
  const port = chrome.runtime.connect({ name: PORT_NAME });
  port.onMessage.addListener((reply) => channels.get(reply?.channel)?.deliver(reply));
  // The worker stopped (or the extension was reloaded): what it had not
  // answered never will be, and its write sessions are gone with it.
  port.onDisconnect.addListener(() => {
    if (worker === port) worker = null;
    for (const { abandon } of channels.values()) abandon();
  });
  return port;
}

/** @param {unknown} message */
function send(message) {
  try {
    (worker ??= openWorker()).postMessage(message);
  } catch {
    // The port died before its disconnect event arrived; nothing was sent.
    // Close it for good before opening the next, so no port is left behind.
    try {
      worker?.disconnect();
    } catch {}
    for (const { abandon } of channels.values()) abandon();
    (worker = openWorker()).postMessage(message);
  }
}

/**
 * Relays the requests of one page channel.
 * @param {number} channel
 * @param {MessagePort} page
 */
function relay(channel, page) {
  let nextId = 0;
  /** The page's request id for each request sent and not yet answered. */
  const waiting = new Map();

  page.onmessage = ({ data }) => {
    const id = ++nextId;
    try {
      send({ channel, id, request: data?.request, data: data?.data });
      waiting.set(id, data?.id);
    } catch (e) {
      page.postMessage({ id: data?.id, ...unavailable(`the extension is unavailable: ${/** @type {Error} */ (e).message}`) });
    }
    // postMessage() has copied the bytes: hand the buffer back for the page's next batch.
    if (data?.data instanceof ArrayBuffer) page.postMessage({ spent: data.data }, [data.data]);
  };

  return {
    /** @param {{id: number}} reply */
    deliver(reply) {
      const id = waiting.get(reply.id);
      if (id === undefined) return;
      waiting.delete(reply.id);
      page.postMessage({ ...reply, channel: undefined, id });
    },
    abandon() {
      for (const id of waiting.values()) page.postMessage({ id, ...unavailable('the extension restarted before answering; retry') });
      waiting.clear();
    },
    /** Closes the channel, telling the page (it opens another); the worker ends its write sessions. */
    close() {
      page.postMessage({ closed: true });
      page.close();
      waiting.clear();
      if (worker) send({ channel, closed: true });
    },
  };
}
