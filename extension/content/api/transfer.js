// MAIN world, part 2: handles through postMessage(), as far as script can.
//
// A browser serializes a FileSystemFileHandle natively and refuses it across
// origins. A handle made by script cannot be taught to structured clone, so
// handles are Proxies (api/core.js), which clone refuses with DataCloneError:
// that is what any native postMessage() says when a handle is sent to
// another origin. Within the origin, the postMessage() functions of this
// realm retry a message that failed that way with each handle replaced by its
// description, in an envelope; the receiving realm, which runs the same API,
// rebuilds the handles when the page reads `event.data`.
//
// A window's own postMessage() is left alone. Another same-origin frame
// calling it (`parent.postMessage(…)`) would run this realm's wrapper, and a
// message posted from this realm's code comes from this window: the bridge
// would take that frame's connect message as this window's own. Handles go
// to a frame through a MessagePort or a BroadcastChannel instead.
//
// What script cannot reach (README): window.postMessage(); a receiver
// without this code (a same-origin about:blank frame, a service worker) gets
// DataCloneError at the sender; IndexedDB cannot store handles; a
// description that reaches another origin through a MessagePort makes
// reading `event.data` throw DataCloneError there instead of firing
// `messageerror`.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function transfer(scope, env) {
  'use strict';
  const { Object, Reflect, Proxy, Map, Set, WeakMap, Array, DOMException, Symbol } = scope;
  const SERIALIZE = Symbol.for('cross-origin-storage.handle');
  /** Marks a message that carries handle descriptions, and each description in it. */
  const ENVELOPE = 'cross-origin-storage:envelope';
  const HANDLE = 'cross-origin-storage:handle';
  const tagOf = (value) => Reflect.apply(Object.prototype.toString, value, []);

  /**
   * A copy of `value` with every handle replaced by its description, or null
   * when it holds no handle. It walks what structured clone walks (arrays,
   * objects, maps, sets) and keeps everything else as it is.
   */
  function envelopeOf(message) {
    let found = false;
    const copies = new Map();
    const replace = (value) => {
      if (value === null || typeof value !== 'object') return value;
      const describe = value[SERIALIZE];
      if (typeof describe === 'function') {
        found = true;
        return { [HANDLE]: describe() };
      }
      if (copies.has(value)) return copies.get(value);
      const tag = tagOf(value);
      if (tag === '[object Map]') {
        const copy = new Map();
        copies.set(value, copy);
        for (const [k, v] of value) copy.set(replace(k), replace(v));
        return copy;
      }
      if (tag === '[object Set]') {
        const copy = new Set();
        copies.set(value, copy);
        for (const v of value) copy.add(replace(v));
        return copy;
      }
      if (tag !== '[object Array]' && tag !== '[object Object]') return value;
      const copy = tag === '[object Array]' ? new Array(value.length) : {};
      copies.set(value, copy);
      for (const key of Object.keys(value)) copy[key] = replace(value[key]);
      return copy;
    };
    const copy = replace(message);
    return found ? { [ENVELOPE]: true, message: copy } : null;
  }

  /** Rebuilds the handles of a received envelope in place (the graph is the event's own copy). */
  function revive(envelope) {
    const seen = new Set();
    const rebuild = (value) => {
      if (value === null || typeof value !== 'object' || seen.has(value)) return value;
      const description = value[HANDLE];
      if (description && Object.keys(value).length === 1) {
        if (description.origin !== scope.origin) {
          throw new DOMException('a FileSystemFileHandle cannot be sent to another origin', 'DataCloneError');
        }
        return env.reviveHandle(description);
      }
      seen.add(value);
      if (value instanceof Map) {
        const entries = [...value].map(([k, v]) => [rebuild(k), rebuild(v)]);
        value.clear();
        for (const [k, v] of entries) value.set(k, v);
      } else if (value instanceof Set) {
        const items = [...value].map(rebuild);
        value.clear();
        for (const v of items) value.add(v);
      } else {
        for (const key of Object.keys(value)) value[key] = rebuild(value[key]);
      }
      return value;
    };
    return rebuild(envelope.message);
  }

  const isEnvelope = (data) => data !== null && typeof data === 'object' && data[ENVELOPE] === true;

  /**
   * `fn`, retried with the handles in its first argument replaced by their
   * descriptions when structured clone refused them; `after` maps the result.
   */
  const cloningHandles = (fn, after = (result) => result) =>
    new Proxy(fn, {
      apply(target, thisArg, args) {
        try {
          return Reflect.apply(target, thisArg, args);
        } catch (error) {
          const envelope = error?.name === 'DataCloneError' && args.length > 0 ? envelopeOf(args[0]) : null;
          if (!envelope) throw error;
          return after(Reflect.apply(target, thisArg, [envelope, ...Array.prototype.slice.call(args, 1)]));
        }
      },
    });

  // A dedicated worker's own postMessage (to its creator: no other realm can
  // call it), and those of the objects that carry messages to another realm.
  if (env.setup.kind === 'dedicated') scope.postMessage = cloningHandles(scope.postMessage);
  for (const name of ['MessagePort', 'Worker', 'BroadcastChannel']) {
    const prototype = scope[name]?.prototype;
    if (prototype) prototype.postMessage = cloningHandles(prototype.postMessage);
  }
  // structuredClone() within this realm keeps handles too.
  scope.structuredClone = cloningHandles(scope.structuredClone, revive);

  // Receiving: `event.data` of a message that carries handles gives the
  // handles, rebuilt once per event. Any other message is left as it is.
  const { get: nativeData } = Object.getOwnPropertyDescriptor(scope.MessageEvent.prototype, 'data');
  /** @type {WeakMap<Event, {value?: unknown, error?: unknown}>} */
  const rebuilt = new WeakMap();
  const { get } = Object.getOwnPropertyDescriptor(
    {
      get data() {
        const data = Reflect.apply(nativeData, this, []);
        if (!isEnvelope(data)) return data;
        if (!rebuilt.has(this)) {
          try {
            rebuilt.set(this, { value: revive(data) });
          } catch (error) {
            rebuilt.set(this, { error });
          }
        }
        const { value, error } = rebuilt.get(this);
        if (error) throw error;
        return value;
      },
    },
    'data',
  );
  Object.defineProperty(scope.MessageEvent.prototype, 'data', { get });
});
