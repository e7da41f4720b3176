// MAIN world, part 1: navigator.crossOriginStorage itself, the same code in a
// window and in every worker (api/workers.js copies the parts into workers).
// Like a browser's WebIDL layer, it converts arguments, builds the handle and
// stream objects and forwards requests; every decision (validation,
// disclosure, integrity) is made by the extension's service worker, which
// does not trust this code.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function core(scope, env) {
  'use strict';
  // Captured before any page script can replace them.
  const { Blob, File, URL, DOMException, TypeError, WritableStream, Promise, JSON, Map, WeakMap, ArrayBuffer, Proxy } = scope;
  const { TextEncoder, Uint8Array, Object, Reflect, Symbol, Array } = scope;
  const warn = scope.console.warn.bind(scope.console);
  const info = scope.console.info.bind(scope.console);
  const INTERNAL = Symbol('internal');
  /**
   * How a handle made in one realm is recognised and serialized in another
   * (api/transfer.js): the global symbol registry is shared by same-origin
   * frames. Reading it tells a page nothing it could not learn by asking the
   * API itself.
   */
  const SERIALIZE = Symbol.for('cross-origin-storage.handle');
  /** Small writes are coalesced into one message of up to this many bytes. */
  const BATCH_BYTES = 4 << 20;
  /** Write requests a writable may have on their way at once. */
  const WRITES_IN_FLIGHT = 3;
  /** `lastModified` of every file read from the store: a constant (the Unix epoch). */
  const LAST_MODIFIED = 0;

  // ---- transport: a private channel to the isolated-world bridge ----------
  // env.newChannel() (api/workers.js) opens one of this frame's page channels:
  // directly in a window, through the creating document in a worker. It is
  // opened on the first request, and again after the bridge closed it or
  // the document relaying it went away.
  /** @type {Promise<ChannelState> | null} */
  let current = null;
  let nextId = 0;
  /**
   * Batch buffers the bridge has handed back once their bytes were sent.
   * Reusing them matters: each fresh 4 MiB buffer costs a thousand page
   * faults to fill, more CPU than the copy itself.
   */
  const spareBuffers = [];
  /** Writable streams not yet closed or aborted; with none, no spare buffer is kept. */
  let openWritables = 0;

  /** @typedef {{resolve: (value: any) => void, reject: (reason: any) => void, resend: (() => Promise<any>) | null}} Pending */
  /** @typedef {{ port: MessagePort, pending: Map<number, Pending>, lost: boolean }} ChannelState */

  function connect() {
    const opened = Promise.resolve(env.newChannel()).then(({ port, gone }) => {
      /** @type {ChannelState} */
      const state = { port, pending: new Map(), lost: false };
      port.onmessage = ({ data }) => receive(state, data);
      gone.then(() => lose(state));
      return state;
    });
    // A channel that could not be opened is asked for again by the next request.
    opened.catch(() => {
      if (current === opened) current = null;
    });
    return opened;
  }

  /** @param {ChannelState} state */
  function receive(state, data) {
    if (data?.spent instanceof ArrayBuffer) {
      const wanted = openWritables > 0 && spareBuffers.length <= WRITES_IN_FLIGHT;
      if (data.spent.byteLength === BATCH_BYTES && wanted) spareBuffers.push(data.spent);
      return;
    }
    // The bridge closed this channel (it keeps a bounded number per frame).
    if (data?.closed === true) return lose(state);
    const settle = state.pending.get(data?.id);
    if (!settle) return;
    state.pending.delete(data.id);
    if (data.ok) settle.resolve(data);
    else settle.reject(toError(data.error));
  }

  /**
   * What was in flight on a channel that went away will never be answered
   * there. A request that holds no write session and carries no transferred
   * bytes (a lookup, a read, opening a writable) is sent again, once, on a new
   * channel: a shared worker's relaying tab closing, or the extension's worker
   * restarting, is nothing the page did. The rest fail with InvalidStateError.
   */
  function lose(/** @type {ChannelState} */ state) {
    if (state.lost) return;
    state.lost = true;
    state.port.close();
    current = null;
    for (const { resolve, reject, resend } of state.pending.values()) {
      if (resend) resend().then(resolve, reject);
      else reject(new DOMException('the connection to the extension closed before it answered; retry', 'InvalidStateError'));
    }
    state.pending.clear();
  }

  /**
   * Sends one request; `data` (a Blob, or an ArrayBuffer that is transferred)
   * travels beside it. `resent`: this is the one retry of a lost request.
   */
  function call(request, data, resent = false) {
    const channel = (current ??= connect());
    const id = ++nextId;
    const resendable = !resent && !('session' in request) && !(data instanceof ArrayBuffer);
    return new Promise((resolve, reject) => {
      channel.then((state) => {
        if (state.lost) return reject(new DOMException('the connection to the extension closed; retry', 'InvalidStateError'));
        state.pending.set(id, { resolve, reject, resend: resendable ? () => call(request, data, true) : null });
        state.port.postMessage({ id, request, data }, data instanceof ArrayBuffer ? [data] : []);
      }, reject);
    });
  }

  /**
   * Once per page load, when the store answers NotFoundError or
   * NotAllowedError: where the developer can see why. Identical for every
   * cause (a plain miss included), so it tells nothing the error did not.
   * A worker asks its creating document to print it (api/channels.js), so a
   * page and its workers print it once between them.
   */
  const HINT = 'crossOriginStorage: a file was not available; open the Cross-Origin Storage panel in DevTools to see why';
  let hinted = false;
  env.hint = () => {
    if (hinted) return;
    hinted = true;
    if (!env.relayHint?.()) info(HINT);
  };

  /** @param {{ name?: string, message?: string }} [error] the worker's `{name, message}` */
  function toError({ name, message } = {}) {
    if (name === 'NotFoundError' || name === 'NotAllowedError') env.hint();
    return name === 'TypeError' ? new TypeError(message) : new DOMException(message, name || 'UnknownError');
  }

  // ---- WebIDL-style argument conversion -----------------------------------
  function toHash(hash) {
    if (hash === null || (typeof hash !== 'object' && typeof hash !== 'function')) {
      throw new TypeError('hash must be an object {algorithm, value}');
    }
    const { algorithm, value } = hash;
    if (algorithm === undefined) throw new TypeError('hash.algorithm is required');
    if (value === undefined) throw new TypeError('hash.value is required');
    return { algorithm: String(algorithm), value: String(value) };
  }

  // Origins go through the browser's URL parser; the worker accepts only its
  // canonical output, so whatever does not parse is passed on to be refused there.
  const canonicalOrigin = (s) => {
    try {
      return new URL(s).origin;
    } catch {
      return s;
    }
  };

  /** `(DOMString or sequence<DOMString>) origins`, as converted for a request. */
  function toOrigins(origins) {
    if (origins != null && typeof origins === 'object' && typeof origins[Symbol.iterator] === 'function') {
      return Array.from(origins, (o) => canonicalOrigin(String(o)));
    }
    return origins === undefined ? undefined : canonicalOrigin(String(origins));
  }

  function toOptions(options) {
    if (options == null) return { create: false, origins: undefined };
    if (typeof options !== 'object' && typeof options !== 'function') throw new TypeError('options must be an object');
    const { create, origins } = options;
    return { create: Boolean(create), origins: toOrigins(origins) };
  }

  // ---- writable stream ----------------------------------------------------
  // Bytes the page hands over as BufferSource or string are copied into
  // ArrayBuffers of up to BATCH_BYTES and transferred; the bridge hands each
  // back once sent, and the next batch reuses it. (Wrapping them in Blobs
  // instead would park them in the browser's blob store until the page
  // happens to garbage-collect.) Blobs the page passes are sent as they are,
  // by reference.
  const encoder = new TextEncoder();

  function toBytes(data) {
    if (typeof data === 'string') return encoder.encode(data);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError('write() takes a BufferSource, Blob, string, or {type, ...} parameters');
  }

  /** A copy of `bytes` (at most BATCH_BYTES) in a buffer of its own, to be transferred. */
  function batchOf(bytes) {
    if (bytes.length !== BATCH_BYTES || !spareBuffers.length) return bytes.slice().buffer;
    const buffer = spareBuffers.pop();
    new Uint8Array(buffer).set(bytes);
    return buffer;
  }

  const isWriteParams = (chunk) =>
    chunk !== null &&
    typeof chunk === 'object' &&
    !(chunk instanceof Blob) &&
    !(chunk instanceof ArrayBuffer) &&
    !ArrayBuffer.isView(chunk) &&
    'type' in chunk;

  function missing(what) {
    return new DOMException(`${what} is required`, 'SyntaxError');
  }

  function createWritableStream(session, onCommitted) {
    // Writes are pipelined: up to WRITES_IN_FLIGHT requests travel while the
    // page produces the next bytes (the worker runs one session's requests in
    // order). A failure surfaces on the next write or on close, like an
    // errored file stream; nothing is stored either way.
    const inFlight = [];
    let failure = null;
    let open = true;
    openWritables++;
    const ended = () => {
      if (open && --openWritables === 0) spareBuffers.length = 0;
      open = false;
    };
    const staged = new Uint8Array(BATCH_BYTES);
    let stagedBytes = 0;

    async function send(request, data) {
      if (failure) throw failure;
      const sent = call(request, data);
      sent.catch((e) => {
        // The stream is errored from here on, like a file stream after a
        // failed write. Tell the extension too, so the session and its
        // temporary file go now (most failures ended it already: then the
        // abort is refused, harmlessly).
        if (!failure) call({ op: 'abort', session }).catch(() => {});
        failure ??= e;
        ended();
      });
      inFlight.push(sent);
      while (inFlight.length > WRITES_IN_FLIGHT) await inFlight.shift();
    }

    async function settle() {
      await flush();
      while (inFlight.length) await inFlight.shift();
    }

    async function flush() {
      if (stagedBytes === 0) return;
      const buffer = batchOf(staged.subarray(0, stagedBytes));
      stagedBytes = 0;
      await send({ op: 'write', session }, buffer);
    }

    async function write(data, position) {
      if (data instanceof Blob || position != null) await flush();
      if (data instanceof Blob) return send({ op: 'write', session, position: position ?? undefined }, data);
      const bytes = toBytes(data);
      if (position != null) {
        // The first piece carries the position; the rest follow at the cursor.
        await send({ op: 'write', session, position }, batchOf(bytes.subarray(0, BATCH_BYTES)));
        for (let at = BATCH_BYTES; at < bytes.length; at += BATCH_BYTES) {
          await send({ op: 'write', session }, batchOf(bytes.subarray(at, at + BATCH_BYTES)));
        }
        return;
      }
      for (let at = 0; at < bytes.length; ) {
        if (stagedBytes === 0 && bytes.length - at >= BATCH_BYTES) {
          // A whole batch: one copy, straight out.
          await send({ op: 'write', session }, batchOf(bytes.subarray(at, at + BATCH_BYTES)));
          at += BATCH_BYTES;
          continue;
        }
        const take = Math.min(BATCH_BYTES - stagedBytes, bytes.length - at);
        staged.set(bytes.subarray(at, at + take), stagedBytes);
        stagedBytes += take;
        at += take;
        if (stagedBytes === BATCH_BYTES) await flush();
      }
    }

    const stream = new WritableStream({
      async write(chunk) {
        if (!isWriteParams(chunk)) return write(chunk);
        switch (chunk.type) {
          case 'write':
            if (chunk.data == null) throw missing('data');
            return write(chunk.data, chunk.position);
          case 'seek':
            if (chunk.position == null) throw missing('position');
            await flush();
            return send({ op: 'seek', session, position: chunk.position });
          case 'truncate':
            if (chunk.size == null) throw missing('size');
            await flush();
            return send({ op: 'truncate', session, size: chunk.size });
          default:
            throw new TypeError(`unknown write type ${JSON.stringify(String(chunk.type))}`);
        }
      },
      async close() {
        try {
          await settle();
          if (failure) throw failure;
          const { value } = await call({ op: 'close', session });
          for (const warning of value.warnings) warn(`crossOriginStorage: ${warning}`);
          onCommitted();
        } finally {
          ended();
        }
      },
      async abort() {
        ended();
        stagedBytes = 0;
        await call({ op: 'abort', session }).catch(() => {});
      },
    });

    // FileSystemWritableFileStream's own methods: one write through a writer each.
    const viaWriter = (chunk) => {
      const writer = stream.getWriter();
      const result = writer.write(chunk);
      writer.releaseLock();
      return result;
    };
    Object.defineProperties(stream, {
      write: { value: (data) => viaWriter(data) },
      seek: { value: (position) => viaWriter({ type: 'seek', position }) },
      truncate: { value: (size) => viaWriter({ type: 'truncate', size }) },
    });
    return stream;
  }

  // ---- handles ------------------------------------------------------------
  // A handle is a Proxy over an empty object of the handle class, its state
  // kept here. A Proxy is what structured clone refuses (DataCloneError), so
  // postMessage() to another origin fails as the spec says, and to the same
  // origin api/transfer.js sends a description in its place. (A plain
  // object would be cloned silently into `{}`.)
  /** @typedef {{ hash: {algorithm: string, value: string}, create: boolean, origins: unknown, readable: boolean }} HandleState */
  /** @type {WeakMap<object, HandleState>} */
  const handles = new WeakMap();

  function stateOf(handle) {
    const state = handles.get(handle);
    if (!state) throw new TypeError('Illegal invocation');
    return state;
  }

  /** What another realm of this origin needs to rebuild the handle (api/transfer.js). */
  const describe = (/** @type {HandleState} */ state) => ({ ...state, origin: scope.origin });

  const proxyTraps = {
    get(target, key, receiver) {
      if (key !== SERIALIZE) return Reflect.get(target, key, receiver);
      const state = handles.get(receiver);
      return state && (() => describe(state));
    },
  };

  /** @param {HandleState} state */
  function newHandle(state) {
    const handle = new Proxy(Object.create(CrossOriginStorageFileHandle.prototype), proxyTraps);
    handles.set(handle, state);
    return handle;
  }

  class CrossOriginStorageFileHandle {
    constructor() {
      throw new TypeError('Illegal constructor');
    }

    get kind() {
      stateOf(this);
      return 'file';
    }

    get name() {
      return stateOf(this).hash.value;
    }

    async getFile() {
      const state = stateOf(this);
      if (!state.readable) {
        throw new DOMException('this handle was requested with {create: true}; it can read only after its writable closes', 'NotAllowedError');
      }
      const { file } = await call({ op: 'read', hash: state.hash });
      // The stored file's own time says when it was first stored: history,
      // and the same value on every site that reads it. Never exposed.
      return new File([file], state.hash.value, { type: file.type, lastModified: LAST_MODIFIED });
    }

    // Its options (keepExistingData) mean nothing here: a COS writable always starts empty.
    async createWritable() {
      const state = stateOf(this);
      if (!state.create) {
        throw new DOMException('this handle is read-only; request it with {create: true} to write', 'NotAllowedError');
      }
      const { value } = await call({ op: 'write-begin', hash: state.hash, origins: state.origins });
      return createWritableStream(value.session, () => {
        state.readable = true;
      });
    }

    async isSameEntry(other) {
      const name = stateOf(this).hash.value;
      const described = other?.[SERIALIZE]?.();
      return described?.hash.value === name;
    }

    async queryPermission(descriptor = undefined) {
      const state = stateOf(this);
      const allowed = descriptor?.mode === 'readwrite' ? state.create : state.readable;
      return allowed ? 'granted' : 'denied';
    }

    async requestPermission(descriptor = undefined) {
      return this.queryPermission(descriptor);
    }

    async move() {
      stateOf(this);
      throw new DOMException('files in cross-origin storage cannot be moved or renamed', 'NotAllowedError');
    }

    async remove() {
      stateOf(this);
      throw new DOMException('pages cannot delete files from cross-origin storage', 'NotAllowedError');
    }

    async createSyncAccessHandle() {
      stateOf(this);
      throw new DOMException('cross-origin storage files have no sync access handles', 'InvalidStateError');
    }

    get [Symbol.toStringTag]() {
      return 'FileSystemFileHandle';
    }
  }
  exposeLikeWebIDL(CrossOriginStorageFileHandle.prototype);
  // So that `handle instanceof FileSystemFileHandle` holds for libraries that check.
  if (scope.FileSystemFileHandle) {
    Object.setPrototypeOf(CrossOriginStorageFileHandle.prototype, scope.FileSystemFileHandle.prototype);
  }

  /** WebIDL operations and attributes are enumerable, class members are not. */
  function exposeLikeWebIDL(prototype) {
    for (const name of Object.getOwnPropertyNames(prototype)) {
      if (name !== 'constructor') Object.defineProperty(prototype, name, { enumerable: true });
    }
  }

  // ---- the manager --------------------------------------------------------
  /** `method` names the API (or integration) called, for the developer tools only. */
  async function getFileHandle(hash, options, method) {
    const key = toHash(hash);
    const opts = toOptions(options);
    await call({ op: 'open', hash: key, create: opts.create, origins: opts.origins, method });
    return newHandle({ hash: key, create: opts.create, origins: opts.origins, readable: !opts.create });
  }

  class CrossOriginStorageManager {
    // No parameters: WebIDL interfaces have `length` 0.
    constructor() {
      if (arguments[0] !== INTERNAL) throw new TypeError('Illegal constructor');
    }

    getFileHandle(hash, options = undefined) {
      return getFileHandle(hash, options, 'getFileHandle');
    }

    /** The spec's earlier name (Transformers.js 4.3, Emscripten, WebLLM). */
    requestFileHandle(hash, options = undefined) {
      return getFileHandle(hash, options, 'requestFileHandle');
    }

    /** The legacy plural form (Transformers.js 4.0-4.2): all or nothing. */
    async requestFileHandles(hashes, options = undefined) {
      if (hashes == null || typeof hashes[Symbol.iterator] !== 'function') {
        throw new TypeError('requestFileHandles takes a sequence of hashes');
      }
      return Promise.all(Array.from(hashes, (hash) => getFileHandle(hash, options, 'requestFileHandles')));
    }

    get [Symbol.toStringTag]() {
      return 'CrossOriginStorageManager';
    }
  }
  exposeLikeWebIDL(CrossOriginStorageManager.prototype);

  const manager = Reflect.construct(CrossOriginStorageManager, [INTERNAL]);
  // Navigator in a window, WorkerNavigator in a worker. Like a WebIDL
  // attribute getter it refuses any `this` that is not a navigator
  // (Navigator.prototype itself included): a native getter of the same
  // interface does that check for us.
  const NavigatorInterface = scope.Navigator ?? scope.WorkerNavigator;
  const brandCheck = Object.getOwnPropertyDescriptor(NavigatorInterface.prototype, 'userAgent').get;
  const { get } = Object.getOwnPropertyDescriptor(
    {
      get crossOriginStorage() {
        Reflect.apply(brandCheck, this, []);
        return manager;
      },
    },
    'crossOriginStorage',
  );
  Object.defineProperty(NavigatorInterface.prototype, 'crossOriginStorage', { get, enumerable: true, configurable: true });
  Object.defineProperty(scope, 'CrossOriginStorageManager', {
    value: CrossOriginStorageManager,
    writable: true,
    configurable: true,
  });

  // For the other parts: the host integrations open handles as a page does.
  env.getFileHandle = getFileHandle;
  env.toOrigins = toOrigins;
  env.reviveHandle = (/** @type {HandleState} */ description) =>
    newHandle({
      hash: toHash(description.hash),
      create: Boolean(description.create),
      origins: description.origins,
      readable: Boolean(description.readable),
    });
});
