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
  const port = event.ports[0];
  if (!port) return;
  port.onmessage = async ({ data }) => {
    const id = data?.id;
    let reply;
    try {
      reply = await chrome.runtime.sendMessage({ request: data?.request, data: data?.data });
    } catch (e) {
      reply = { ok: false, error: { name: 'InvalidStateError', message: `the extension is unavailable: ${e.message}` } };
    }
    // No reply at all: the worker stopped while handling the request.
    reply ??= { ok: false, error: { name: 'InvalidStateError', message: 'the extension restarted before answering; retry' } };
    port.postMessage({ id, ...reply });
  };
});
