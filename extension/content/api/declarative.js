// MAIN world, part 7 (windows only): the proposed HTML attribute
//
//   <script src integrity crossoriginstorage[="* | origins…"]>
//   <link rel="stylesheet | preload | modulepreload" href integrity crossoriginstorage>
//
// as far as a content script can make it reliable:
// - Stored: every such element that loads from the network (parser- or
//   script-inserted, classic or module, async or defer) has its bytes stored
//   with its scope once it has loaded, through the fetch() integration (a
//   lookup first, free for a site's own files; then the HTTP cache).
// - Served: a classic script that a page script inserts (appendChild,
//   insertBefore, append, …) loads from the store when it is there, with no
//   network request: its src is held back while the store is asked, then
//   set to the stored bytes (a blob: URL, integrity checked again by the
//   browser) or to the original URL.
// Not served (README): parser-inserted elements (the preload scanner has
// requested them before any script runs, and the parser cannot be paused),
// module scripts and stylesheets (their relative imports and url()s would
// resolve against a blob: URL), scripts inside an inserted subtree, and any
// document with a Content-Security-Policy (it may refuse blob: scripts).
// A held-back script reads `src` "" until the store answers, and runs
// later than an unheld one would: an `async = false` script can run after
// ordered scripts inserted after it.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function declarative(scope, env) {
  'use strict';
  if (env.setup.kind !== 'window' || !env.setup.cspFree) return;
  const { document, URL, Proxy, Reflect, Promise, Set, WeakSet, WritableStream, Node, Element, CharacterData, DocumentFragment, DocumentType, Document } = scope;
  const HTML = 'http://www.w3.org/1999/xhtml';
  const ATTRIBUTE = 'crossoriginstorage';
  /** Captured: the page may replace window.fetch later. */
  const fetchThroughStore = scope.fetch;
  const createObjectURL = URL.createObjectURL;
  const revokeObjectURL = URL.revokeObjectURL;
  const CLASSIC_TYPES = new Set(['', 'text/javascript', 'application/javascript', 'application/ecmascript', 'text/ecmascript']);

  /** The HTML attribute's value as the fetch() member: '' and '*' as they are, otherwise a space-separated list. */
  const scopeOf = (value) => (value === '' || value.trim() === '*' ? value.trim() : value.trim().split(/\s+/));

  /**
   * What an element with the attribute loads, or null.
   * @returns {{url: string, integrity: string, scope: string | string[], credentials: RequestCredentials} | null}
   */
  function sourceOf(element) {
    if (element?.namespaceURI !== HTML || !element.hasAttribute(ATTRIBUTE) || !element.getAttribute('integrity')) return null;
    let url;
    if (element.localName === 'script') url = element.getAttribute('src');
    else if (element.localName === 'link' && /\b(stylesheet|preload|modulepreload)\b/i.test(element.rel)) url = element.getAttribute('href');
    if (!url) return null;
    return {
      url: new URL(url, document.baseURI).href,
      integrity: element.getAttribute('integrity'),
      scope: scopeOf(element.getAttribute(ATTRIBUTE)),
      credentials: element.getAttribute('crossorigin') === 'use-credentials' ? 'include' : 'same-origin',
    };
  }

  /** Elements whose bytes came from the store: nothing to store after they load. */
  const served = new WeakSet();

  // Stored once loaded. `load` does not bubble, but the document sees it in
  // its capture phase for every element it holds.
  document.addEventListener(
    'load',
    (event) => {
      const element = event.target;
      const source = served.has(element) ? null : sourceOf(element);
      if (!source) return;
      fetchThroughStore(source.url, {
        integrity: source.integrity,
        crossOriginStorage: source.scope,
        mode: 'cors',
        credentials: source.credentials,
        cache: 'force-cache',
      })
        .then((response) => response.body?.pipeTo(new WritableStream()))
        .catch(() => {});
    },
    true,
  );

  // ---- script-inserted classic scripts come from the store -----------------
  const held = new WeakSet();

  function isHeldBackCandidate(node) {
    if (node?.nodeType !== 1 || node.localName !== 'script' || node.isConnected || held.has(node)) return false;
    if (!CLASSIC_TYPES.has((node.getAttribute('type') ?? '').trim().toLowerCase()) || node.hasAttribute('nomodule')) return false;
    return sourceOf(node) !== null;
  }

  /** Takes the script's src away until the store has answered; a script without src does not start. */
  function holdBack(script) {
    const source = sourceOf(script);
    const src = script.getAttribute('src');
    held.add(script);
    script.removeAttribute('src');
    const hash = env.sha256OfIntegrity(source.integrity);
    const lookup = hash
      ? env.getFileHandle({ algorithm: 'SHA-256', value: hash }).then((handle) => handle.getFile())
      : Promise.reject(new Error('no sha256 integrity'));
    lookup.then(
      (file) => {
        const url = Reflect.apply(createObjectURL, URL, [file]);
        const revoke = () => Reflect.apply(revokeObjectURL, URL, [url]);
        script.addEventListener('load', revoke, { once: true });
        script.addEventListener('error', revoke, { once: true });
        served.add(script);
        script.setAttribute('src', url);
      },
      () => script.setAttribute('src', src),
    );
  }

  /** Holds back the candidates among `nodes` (and the children of fragments among them) before they are inserted. */
  function beforeInsert(nodes) {
    for (const node of nodes) {
      if (node?.nodeType === 11) {
        for (const child of node.children) if (isHeldBackCandidate(child)) holdBack(child);
      } else if (isHeldBackCandidate(node)) holdBack(node);
    }
  }

  const inserting = (method, nodesOf) =>
    new Proxy(method, {
      apply(target, thisArg, args) {
        beforeInsert(nodesOf(args));
        return Reflect.apply(target, thisArg, args);
      },
    });
  const first = (args) => [args[0]];
  const all = (args) => args;
  const patch = (prototype, name, nodesOf) => {
    if (typeof prototype?.[name] === 'function') prototype[name] = inserting(prototype[name], nodesOf);
  };
  patch(Node.prototype, 'appendChild', first);
  patch(Node.prototype, 'insertBefore', first);
  patch(Node.prototype, 'replaceChild', first);
  patch(Element.prototype, 'insertAdjacentElement', (args) => [args[1]]);
  for (const prototype of [Element.prototype, Document.prototype, DocumentFragment.prototype]) {
    patch(prototype, 'append', all);
    patch(prototype, 'prepend', all);
  }
  for (const prototype of [Element.prototype, CharacterData.prototype, DocumentType.prototype]) {
    patch(prototype, 'before', all);
    patch(prototype, 'after', all);
    patch(prototype, 'replaceWith', all);
  }
});
