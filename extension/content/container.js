// Isolated world, every frame: tells the worker which element of this
// document holds one of its child frames, and what that element's markup
// says to Permissions Policy (its `allow` attribute and the origin its `src`
// declares). Chromium has no API mapping a frame id to its element, so the
// worker gives a one-time token to this frame's script and to the child's;
// the child's script posts it to this window, and the element whose window
// sent it is the one (see worker/frame-facts.js).
//
// Only the two content scripts ever hold the token before it is posted, and
// the message is stopped before this page's own listeners see it, so a page
// cannot answer for a frame. The parent's page decides the element's markup
// anyway: that is the authority the spec gives it.
'use strict';

(() => {
  // A frame below an insecure document is insecure too: nothing to answer for.
  if (!globalThis.isSecureContext) return;

  const TYPE = 'cross-origin-storage:container';
  /** How long a token waits for its other half (the worker gives up sooner). */
  const WAIT_MS = 3000;
  /** Tokens remembered at once: a page posting many cannot grow the maps without bound. */
  const MAX_WAITING = 64;

  /** @type {Map<string, (answer: object) => void>} tokens the worker asked about, not yet posted by a child */
  const asked = new Map();
  /** @type {Map<string, MessageEventSource>} tokens a child posted before the worker asked */
  const posted = new Map();

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    // Only the worker sends to content scripts.
    if (sender.id !== chrome.runtime.id || sender.tab) return false;
    if (typeof message?.announceTo === 'string') {
      window.parent.postMessage({ type: TYPE, token: message.announceTo }, '*');
      sendResponse(true);
      return false;
    }
    if (typeof message?.containerOf !== 'string') return false;
    const token = message.containerOf;
    const source = posted.get(token);
    if (source) {
      posted.delete(token);
      sendResponse(describe(source));
      return false;
    }
    if (asked.size >= MAX_WAITING) return false;
    asked.set(token, sendResponse);
    setTimeout(() => asked.delete(token) && sendResponse({ kind: 'unknown' }), WAIT_MS);
    return true;
  });

  // Capture, registered at document_start: before any listener of the page.
  window.addEventListener(
    'message',
    (event) => {
      if (event.data?.type !== TYPE) return;
      event.stopImmediatePropagation();
      const { token } = event.data;
      const source = event.source;
      if (typeof token !== 'string' || !source || source === window) return;
      const reply = asked.get(token);
      if (reply) {
        asked.delete(token);
        reply(describe(source));
      } else if (!posted.has(token) && posted.size < MAX_WAITING) {
        posted.set(token, source);
        setTimeout(() => posted.delete(token), WAIT_MS);
      }
    },
    true,
  );

  /**
   * The facts of the element holding the frame whose window is `source`.
   * @param {MessageEventSource} source
   */
  function describe(source) {
    const element = containerOf(source);
    if (!element) return { kind: 'unknown' };
    if (!(element instanceof HTMLIFrameElement)) return { kind: 'other' };
    return { kind: 'iframe', allow: element.getAttribute('allow'), srcOrigin: declaredOrigin(element) };
  }

  /**
   * The `<iframe>`, `<frame>` or `<object>` whose window is `source`, in
   * this document or any shadow tree in it (closed ones included).
   * @param {MessageEventSource} source
   * @returns {HTMLIFrameElement | HTMLFrameElement | HTMLObjectElement | undefined}
   */
  function containerOf(source) {
    /** @param {Document | ShadowRoot} root */
    const find = (root) =>
      [...root.querySelectorAll('iframe, frame, object')].find(
        (el) => /** @type {HTMLIFrameElement | HTMLFrameElement | HTMLObjectElement} */ (el).contentWindow === source,
      );
    const found = find(document);
    if (found) return /** @type {HTMLIFrameElement | HTMLFrameElement | HTMLObjectElement} */ (found);
    for (const shadow of shadowRoots(document)) {
      const inShadow = find(shadow);
      if (inShadow) return /** @type {HTMLIFrameElement | HTMLFrameElement | HTMLObjectElement} */ (inShadow);
    }
    return undefined;
  }

  /**
   * @param {Document | ShadowRoot} root
   * @returns {Generator<ShadowRoot>}
   */
  function* shadowRoots(root) {
    for (const el of root.querySelectorAll('*')) {
      const shadow = el instanceof HTMLElement ? chrome.dom.openOrClosedShadowRoot(el) : null;
      if (shadow) {
        yield shadow;
        yield* shadowRoots(shadow);
      }
    }
  }

  /**
   * The origin the iframe's markup declares (the Permissions Policy spec's
   * "declared origin", what `'src'` means): opaque when sandboxed without
   * allow-same-origin, this document's for srcdoc or no usable src.
   * @param {HTMLIFrameElement} iframe
   */
  function declaredOrigin(iframe) {
    if (self.origin === 'null') return 'null';
    if (iframe.hasAttribute('sandbox') && !iframe.sandbox.contains('allow-same-origin')) return 'null';
    if (iframe.hasAttribute('srcdoc')) return self.origin;
    const src = iframe.getAttribute('src');
    return (src !== null && URL.parse(src, document.baseURI)?.origin) || self.origin;
  }
})();
