// Isolated-world relay between this frame's page API (api.js, MAIN world) and
// the service worker. It interprets nothing: the worker validates every
// request and learns the caller's origin from the browser, per frame.
'use strict';

// The API is [SecureContext]: on an insecure page a network attacker could
// inject script, so the relay does not even listen there.
if (globalThis.isSecureContext) window.addEventListener('message', (event) => {
  // Only this frame's own window may connect. A message from another frame
  // (event.source is that frame) must never borrow this frame's origin.
  if (event.source !== window || event.data?.type !== 'cross-origin-storage:connect') return;
  const page = event.ports[0];
  if (page) relay(page);
});

const unavailable = (message) => ({ ok: false, error: { name: 'InvalidStateError', message } });

/**
 * Relays the requests of one page channel over one long-lived port to the
 * worker. One port per frame rather than one message channel per request:
 * the browser routes each sendMessage() through a fresh channel, which at
 * 4 MiB writes cost as much CPU as storing the bytes.
 */
function relay(page) {
  /** The port to the worker, opened on the first request and again after the worker restarts. */
  let worker = null;
  let nextId = 0;
  /** The page's request id for each request sent on `worker` and not yet answered. */
  const waiting = new Map();

  function open() {
    const port = chrome.runtime.connect({ name: 'cross-origin-storage' });
    port.onMessage.addListener((reply) => {
      const id = waiting.get(reply?.id);
      if (id === undefined) return;
      waiting.delete(reply.id);
      page.postMessage({ ...reply, id });
    });
    // The worker stopped (or the extension was reloaded): what it had not
    // answered never will be, and its write sessions are gone with it.
    port.onDisconnect.addListener(() => {
      if (worker === port) worker = null;
      for (const id of waiting.values()) page.postMessage({ id, ...unavailable('the extension restarted before answering; retry') });
      waiting.clear();
    });
    return port;
  }

  page.onmessage = ({ data }) => {
    const id = ++nextId;
    const message = { id, request: data?.request, data: data?.data };
    try {
      try {
        (worker ??= open()).postMessage(message);
      } catch {
        // The port died before its disconnect event arrived; nothing was sent.
        (worker = open()).postMessage(message);
      }
      waiting.set(id, data?.id);
    } catch (e) {
      page.postMessage({ id: data?.id, ...unavailable(`the extension is unavailable: ${e.message}`) });
    }
    // postMessage() has copied the bytes: hand the buffer back for the page's next batch.
    if (data?.data instanceof ArrayBuffer) page.postMessage({ spent: data.data }, [data.data]);
  };
}
