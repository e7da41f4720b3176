// MAIN world, part 5: a worker started through a bootstrap (api/workers.js)
// runs from a blob: (or data:) URL that imports its real script. Its base URL
// is the bootstrap's, so this part puts the real script URL back where
// scripts look for it: `location`, and the functions that resolve relative
// URLs against the base (importScripts, fetch via env.resolveURL, Request,
// XMLHttpRequest, EventSource, WebSocket, and new workers).
//
// What cannot be put back (README): `self.location` is an own property of the
// global, not WorkerLocation's; a relative URL passed to an API not listed
// here resolves against the blob: URL and fails.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function workerScope(scope, env) {
  'use strict';
  const { URL, Proxy, Reflect, Object, String, Array } = scope;
  /**
   * Replaces the interface `name` of the global with a Proxy constructing
   * through `construct`; instances still say the global is their constructor.
   */
  env.wrapInterface = (name, construct) => {
    const native = scope[name];
    const wrapped = new Proxy(native, { construct });
    Object.defineProperty(native.prototype, 'constructor', { value: wrapped, writable: true, configurable: true });
    scope[name] = wrapped;
  };
  const base = env.setup.scriptURL;
  if (!base) {
    env.resolveURL = (url) => url;
    return;
  }
  /** `url` resolved against the real script URL; unchanged if that fails, so the API refuses it as it would have. */
  env.resolveURL = (url) => {
    try {
      return new URL(url, base).href;
    } catch {
      return url;
    }
  };
  const resolveFirst = (args) =>
    args.length > 0 && (typeof args[0] === 'string' || args[0] instanceof URL)
      ? [env.resolveURL(String(args[0])), ...Array.prototype.slice.call(args, 1)]
      : args;

  const real = new URL(base);
  const location = Object.create(scope.WorkerLocation.prototype);
  for (const key of ['href', 'origin', 'protocol', 'host', 'hostname', 'port', 'pathname', 'search', 'hash']) {
    Object.defineProperty(location, key, { get: () => real[key], enumerable: true });
  }
  Object.defineProperty(location, 'toString', { value: () => real.href });
  Object.defineProperty(scope, 'location', { get: () => location, enumerable: true, configurable: true });

  if (typeof scope.importScripts === 'function') {
    scope.importScripts = new Proxy(scope.importScripts, {
      apply: (target, thisArg, urls) => Reflect.apply(target, thisArg, Array.from(urls, (url) => env.resolveURL(String(url)))),
    });
  }
  const open = scope.XMLHttpRequest?.prototype.open;
  if (open) {
    scope.XMLHttpRequest.prototype.open = new Proxy(open, {
      apply(target, thisArg, args) {
        const resolved = args.length > 1 ? [args[0], ...resolveFirst(Array.prototype.slice.call(args, 1))] : args;
        return Reflect.apply(target, thisArg, resolved);
      },
    });
  }
  for (const name of ['Request', 'EventSource', 'WebSocket']) {
    if (typeof scope[name] !== 'function') continue;
    env.wrapInterface(name, (target, args, newTarget) => Reflect.construct(target, resolveFirst(args), newTarget));
  }
});
