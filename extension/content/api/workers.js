// MAIN world, part 6: workers get the API too. Content scripts do not run in
// workers, so Worker and SharedWorker are wrapped: a worker this realm starts
// runs a bootstrap that installs these same parts (their source text) and
// then imports the real script, and the creator hands it a spawner port
// through which it opens page channels of the creator's frame
// (api/channels.js). The worker is keyed to its creator's origin and
// Permissions Policy by construction: its channels are its frame's.
//
// The bootstrap keeps what a page can observe as close to the original as
// script allows: same type (classic: importScripts; module: a static
// import), name and credentials; `location` and relative URLs follow the
// real script URL (api/worker-scope.js). Whatever cannot be wrapped
// faithfully is left to the browser, without the API inside:
// - a document with a Content-Security-Policy: a blob: worker it does not
//   allow would break the page, and script cannot read the header;
// - a blob: URL this realm did not create (it may be revoked before the
//   bootstrap imports it);
// - a SharedWorker where localStorage is unavailable (see below).
// A data: worker (opaque origin) is wrapped with a data: bootstrap, so its
// API exists and refuses every call with NotAllowedError.
//
// Shared workers are found by URL and name, so every document must start a
// given one from the same bootstrap URL: the first records its blob: URL in
// localStorage and the others reuse it (a URL revoked with the document that
// made it still reaches the running worker). When it no longer starts a
// worker, a fresh one replaces it.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function workers(scope, env) {
  'use strict';
  const { URL, Blob, Proxy, Reflect, Object, String, JSON, Map, MessageChannel, Promise, Event, Function, encodeURIComponent } = scope;
  const { setup } = env;
  if (!setup.cspFree) return;
  const NEVER = new Promise(() => {});
  const sourceOf = (fn) => Reflect.apply(Function.prototype.toString, fn, []);
  const partsSource = `[${env.parts.map(sourceOf).join(',\n')}]`;
  const installSource = sourceOf(env.install);
  const createObjectURL = URL.createObjectURL;
  const revokeObjectURL = URL.revokeObjectURL;
  const newBlobURL = (text) => Reflect.apply(createObjectURL, URL, [new Blob([text], { type: 'text/javascript' })]);
  const revoke = (url) => Reflect.apply(revokeObjectURL, URL, [url]);

  // Blobs behind this realm's blob: URLs, so that a worker started from one
  // still loads it if the page revokes the URL right after `new Worker(url)`
  // (the bootstrap imports it later, from a URL of its own).
  /** @type {Map<string, Blob>} */
  const blobs = new Map();
  URL.createObjectURL = new Proxy(createObjectURL, {
    apply(target, thisArg, args) {
      const url = Reflect.apply(target, thisArg, args);
      if (args[0] instanceof Blob) blobs.set(url, args[0]);
      return url;
    },
  });
  URL.revokeObjectURL = new Proxy(revokeObjectURL, {
    apply(target, thisArg, args) {
      blobs.delete(String(args[0]));
      return Reflect.apply(target, thisArg, args);
    },
  });

  // ---- what to start instead ---------------------------------------------
  /** The script a worker would load: its URL, and what the bootstrap imports (a blob: copy for blob: URLs). */
  function planFor(url, options) {
    // A meta CSP can appear after start-up (see api.js for header policies).
    if (scope.document?.querySelector('meta[http-equiv="content-security-policy" i]')) return null;
    let parsed;
    try {
      parsed = new URL(String(url), setup.kind === 'window' ? scope.document.baseURI : setup.scriptURL);
    } catch {
      return null;
    }
    const type = options !== null && typeof options === 'object' && options.type === 'module' ? 'module' : 'classic';
    const plan = { scriptURL: parsed.href, imported: parsed.href, type, opaque: false, temporary: /** @type {string[]} */ ([]) };
    if (parsed.protocol === 'data:') return { ...plan, opaque: true };
    if (parsed.protocol === 'blob:') {
      const blob = blobs.get(parsed.href);
      if (!blob) return null;
      const copy = Reflect.apply(createObjectURL, URL, [blob]);
      return { ...plan, imported: copy, temporary: [copy] };
    }
    const sameOrigin = (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.origin === scope.origin;
    return sameOrigin ? plan : null;
  }

  const installCall = (childSetup) => `(${installSource})(${partsSource}, self, ${JSON.stringify(childSetup)});\n`;
  const dataURL = (text) => `data:text/javascript,${encodeURIComponent(text)}`;
  /** One installer module per realm: a module worker's bootstrap imports it, its setup in the URL's fragment. */
  let installerModule = null;

  /** The URL to start the worker from, which installs the API and then loads `plan.imported`. */
  function bootstrapURL(plan, childSetup) {
    const imported = JSON.stringify(plan.imported);
    if (plan.opaque) {
      // An opaque worker stays opaque: a data: bootstrap.
      if (plan.type === 'classic') return dataURL(`${installCall(childSetup)}importScripts(${imported});\n`);
      return dataURL(`import ${JSON.stringify(dataURL(installCall(childSetup)))};\nimport ${imported};\n`);
    }
    if (plan.type === 'classic') return newBlobURL(`${installCall(childSetup)}importScripts(${imported});\n`);
    installerModule ??= newBlobURL(
      `(${installSource})(${partsSource}, self, JSON.parse(decodeURIComponent(new URL(import.meta.url).hash.slice(1))));\n`,
    );
    const installer = `${installerModule}#${encodeURIComponent(JSON.stringify(childSetup))}`;
    // Static imports: the installer runs first, then the script's graph, whose errors stay the worker's.
    return newBlobURL(`import ${JSON.stringify(installer)};\nimport ${imported};\n`);
  }

  const childSetupOf = (plan, kind) => ({ kind: plan.opaque ? 'opaque' : kind, scriptURL: plan.scriptURL, cspFree: true });

  /**
   * Answers a child's requests for channels with channels of this realm's
   * frame; `lock` names the Web Lock held while they can be answered (a
   * shared worker's child must learn when its document goes).
   */
  function serveSpawner(port, { lock = undefined, booted = () => {} } = {}) {
    port.onmessage = ({ data }) => {
      if (data?.booted === true) return booted();
      if (typeof data?.open !== 'number') return;
      Promise.resolve()
        .then(() => env.newChannel())
        .then(
          (channel) => port.postMessage({ id: data.open, lock: lock ?? channel.lock }, [channel.port]),
          (error) => port.postMessage({ id: data.open, error: { name: error?.name, message: error?.message } }),
        );
    };
  }

  // ---- dedicated workers ---------------------------------------------------
  if (typeof scope.Worker === 'function') {
    const postToWorker = scope.Worker.prototype.postMessage;
    env.wrapInterface('Worker', (target, args, newTarget) => {
      const plan = args.length > 0 ? planFor(args[0], args[1]) : null;
      if (!plan) return Reflect.construct(target, args, newTarget);
      const childSetup = childSetupOf(plan, 'dedicated');
      const url = bootstrapURL(plan, childSetup);
      let worker;
      try {
        worker = Reflect.construct(target, [url, ...Array.prototype.slice.call(args, 1)], newTarget);
      } catch (error) {
        plan.temporary.forEach(revoke);
        throw error;
      } finally {
        // The constructor has resolved the blob: URL already.
        if (!plan.opaque) revoke(url);
      }
      const done = () => plan.temporary.splice(0).forEach(revoke);
      worker.addEventListener('error', done, { once: true });
      if (!plan.opaque) {
        // Posted before the page can post anything: the worker's first message.
        const { port1, port2 } = new MessageChannel();
        serveSpawner(port1, { booted: done });
        Reflect.apply(postToWorker, worker, [{ [env.BOOT]: true }, [port2]]);
      }
      return worker;
    });
  }

  // ---- shared workers (windows only) ---------------------------------------
  if (typeof scope.SharedWorker !== 'function') return;
  const { get: nativePortOf } = Object.getOwnPropertyDescriptor(scope.SharedWorker.prototype, 'port');
  const locks = scope.navigator.locks;
  /** A Web Lock this document holds for its whole life: how its shared workers learn that it went away. */
  let documentLock = null;
  const lockOfThisDocument = () =>
    (documentLock ??= new Promise((resolve) => {
      const name = `cross-origin-storage:document:${scope.crypto.randomUUID()}`;
      locks.request(name, () => {
        resolve(name);
        return NEVER;
      });
    }));

  /** localStorage, or null where it cannot be used (storage blocked): then shared workers are not wrapped. */
  function registry() {
    try {
      const storage = scope.localStorage;
      storage.getItem('');
      return storage;
    } catch {
      return null;
    }
  }

  /**
   * Speaks to the worker's bootstrap over `control`, the connection's own
   * port: it says hello once it runs, then gets this document's spawner and
   * the page's port (`workerPort`), which its script receives in a connect
   * event.
   */
  function boot(control, workerPort) {
    control.onmessage = ({ data }) => {
      if (data?.hello !== true) return;
      control.onmessage = null;
      lockOfThisDocument().then((lock) => {
        serveSpawner(control, { lock });
        control.postMessage({ [env.BOOT]: true, lock }, [workerPort]);
      });
    };
  }

  env.wrapInterface('SharedWorker', (target, args, newTarget) => {
    const options = args[1];
    const storage = registry();
    const plan = storage && args.length > 0 ? planFor(args[0], options) : null;
    if (!plan || plan.opaque) return Reflect.construct(target, args, newTarget);
    const name = typeof options === 'string' ? options : String(options?.name ?? '');
    const key = `cross-origin-storage:shared-worker:${JSON.stringify([plan.type, plan.scriptURL, name])}`;
    const childSetup = childSetupOf(plan, 'shared');
    const fresh = () => {
      const url = bootstrapURL(plan, childSetup);
      storage.setItem(key, url);
      return url;
    };
    const registered = storage.getItem(key);
    let url;
    try {
      url = registered ?? fresh();
    } catch {
      return Reflect.construct(target, args, newTarget);
    }
    const worker = Reflect.construct(target, [url, ...Array.prototype.slice.call(args, 1)], newTarget);
    const { port1: pagePort, port2: workerPort } = new MessageChannel();
    Object.defineProperty(worker, 'port', { value: pagePort, configurable: true });
    let running = false;
    const control = Reflect.apply(nativePortOf, worker, []);
    control.addEventListener('message', () => (running = true), { once: true });
    boot(control, workerPort);
    if (registered) {
      // The recorded URL may no longer start a worker (its document and the
      // worker are gone): then, once, a fresh one, unseen by the page.
      worker.addEventListener('error', (event) => {
        if (running) return;
        event.stopImmediatePropagation();
        let replacement;
        try {
          replacement = Reflect.construct(target, [fresh(), ...Array.prototype.slice.call(args, 1)]);
        } catch {
          return worker.dispatchEvent(new Event('error'));
        }
        replacement.addEventListener('error', () => worker.dispatchEvent(new Event('error')));
        boot(Reflect.apply(nativePortOf, replacement, []), workerPort);
      }, { once: true });
    }
    return worker;
  });
});
