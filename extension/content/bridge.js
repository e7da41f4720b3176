// Isolated-world relay between this frame's page API (api.js, MAIN world) and
// the service worker. It interprets nothing: the worker validates every
// request and learns the caller's origin from the browser, per frame. It
// also reports this frame's trusted user gestures (the probe budget's
// replenishment), which only the browser can produce.
'use strict';

/** Must match PORT_NAME in worker/wire.js (content scripts cannot import modules). */
const PORT_NAME = 'cross-origin-storage';
/**
 * Page channels one frame may keep open (its window and the workers it
 * relays for). Beyond this the oldest is closed, so a page that connects in
 * a loop cannot make the worker hold ports without limit.
 */
const MAX_CHANNELS = 32;

/** @type {Array<() => void>} Closers of this frame's relays, oldest first. */
const relays = [];

// The API is [SecureContext]: on an insecure page a network attacker could
// inject script, so the relay does not even listen there.
if (globalThis.isSecureContext) window.addEventListener('message', (event) => {
  // Only this frame's own window may connect. A message from another frame
  // (event.source is that frame) must never borrow this frame's origin.
  if (event.source !== window || event.data?.type !== 'cross-origin-storage:connect') return;
  const page = event.ports[0];
  if (!page) return;
  relays.push(relay(page));
  while (relays.length > MAX_CHANNELS) relays.shift()?.();
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
 * has (the relay wraps those as {id, request, data}), and pages cannot
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

/** @param {string} message */
const unavailable = (message) => ({ ok: false, error: { name: 'InvalidStateError', code: 'unavailable', message } });

/**
 * Relays the requests of one page channel over one long-lived port to the
 * worker. One port per channel rather than one message channel per request:
 * the browser routes each sendMessage() through a fresh channel, which at
 * 4 MiB writes cost as much CPU as storing the bytes.
 * @param {MessagePort} page
 * @returns {() => void} closes the channel (and its write sessions)
 */
function relay(page) {
  /** @type {chrome.runtime.Port | null} The port to the worker, opened on the first request and again after the worker restarts. */
  let worker = null;
  let nextId = 0;
  /** The page's request id for each request sent on `worker` and not yet answered. */
  const waiting = new Map();

  /** The worker stopped (or the extension was reloaded): what it had not answered never will be. */
  function abandonWaiting() {
    for (const id of waiting.values()) page.postMessage({ id, ...unavailable('the extension restarted before answering; retry') });
    waiting.clear();
  }

  function open() {
    const port = chrome.runtime.connect({ name: PORT_NAME });
    port.onMessage.addListener((reply) => {
      const id = waiting.get(reply?.id);
      if (id === undefined) return;
      waiting.delete(reply.id);
      page.postMessage({ ...reply, id });
    });
    port.onDisconnect.addListener(() => {
      if (worker === port) worker = null;
      abandonWaiting();
    });
    return port;
  }

  /** @param {unknown} message */
  function send(message) {
    try {
      (worker ??= open()).postMessage(message);
    } catch {
      // The port died before its disconnect event arrived; nothing was sent.
      // Close it for good before opening the next, so no port is left behind.
      try {
        worker?.disconnect();
      } catch {}
      abandonWaiting();
      (worker = open()).postMessage(message);
    }
  }

  page.onmessage = ({ data }) => {
    const id = ++nextId;
    try {
      send({ id, request: data?.request, data: data?.data });
      waiting.set(id, data?.id);
    } catch (e) {
      page.postMessage({ id: data?.id, ...unavailable(`the extension is unavailable: ${/** @type {Error} */ (e).message}`) });
    }
    // postMessage() has copied the bytes: hand the buffer back for the page's next batch.
    if (data?.data instanceof ArrayBuffer) page.postMessage({ spent: data.data }, [data.data]);
  };

  return () => {
    page.close();
    worker?.disconnect();
    worker = null;
    waiting.clear();
  };
}
