// Isolated world, every frame: tells the worker which element of this
// document holds one of its child frames, and what that element's markup
// says to Permissions Policy (its `allow` attribute and the origin its `src`
// declares). Chromium has no API mapping a frame id to its element, so the
// worker makes a one-time token, tells this frame's script to expect it,
// and has the child's script post it to this window: the element whose
// window sent it is the one (see worker/frame-facts.js).
//
// Only the worker creates expectations, and only the two content scripts
// hold the token before it is posted; the message is stopped before this
// page's own listeners see it. So no page can answer for a frame, or fill
// these maps. The parent's page decides the element's markup anyway: that
// is the authority the spec gives it.
'use strict';

(() => {
  // A frame below an insecure document is insecure too: nothing to answer for.
  if (!globalThis.isSecureContext) return;

  const TYPE = 'cross-origin-storage:container';
  /** How long an expected token waits to be posted (the worker gives up sooner). */
  const WAIT_MS = 3000;
  /** Tokens expected at once (the worker asks once per document, so a few). */
  const MAX_EXPECTED = 64;

  /**
   * Tokens the worker said to expect: the window that posted it, once it
   * has, and the worker's pending question, once it has asked.
   * @type {Map<string, {source: MessageEventSource | null, answer: (() => void) | null}>}
   */
  const expected = new Map();

  chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
    // Only the worker sends to content scripts.
    if (sender.id !== chrome.runtime.id || sender.tab) return false;
    if (typeof message?.announceTo === 'string') {
      window.parent.postMessage({ type: TYPE, token: message.announceTo }, '*');
      sendResponse(true);
      return false;
    }
    if (typeof message?.expect === 'string') {
      const token = message.expect;
      const fits = expected.size < MAX_EXPECTED && !expected.has(token);
      if (fits) {
        const entry = { source: null, answer: null };
        expected.set(token, entry);
        setTimeout(() => expected.get(token) === entry && (expected.delete(token), entry.answer?.()), WAIT_MS);
      }
      sendResponse(fits);
      return false;
    }
    if (typeof message?.containerOf !== 'string') return false;
    const entry = expected.get(message.containerOf);
    if (!entry) {
      sendResponse({ kind: 'unknown' });
      return false;
    }
    entry.answer = () => {
      expected.delete(message.containerOf);
      sendResponse(entry.source ? describe(entry.source) : { kind: 'unknown' });
    };
    if (!entry.source) return true;
    entry.answer();
    return false;
  });

  // Capture, registered at document_start: before any listener of the page.
  window.addEventListener(
    'message',
    (event) => {
      if (event.data?.type !== TYPE) return;
      event.stopImmediatePropagation();
      const entry = expected.get(event.data.token);
      // The first post of an expected token counts; it comes from a content script.
      if (!entry || entry.source || !event.source || event.source === window) return;
      entry.source = event.source;
      entry.answer?.();
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
