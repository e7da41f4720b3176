// MAIN-world binding of navigator.crossOriginStorage. Like a browser's
// WebIDL layer, it converts arguments, builds the handle and stream objects
// and forwards requests; every decision (validation, disclosure, integrity)
// is made by the extension's service worker, which does not trust this code.
(() => {
  'use strict';
  if (!globalThis.isSecureContext || 'crossOriginStorage' in Navigator.prototype) return;

  // Captured at document_start, before any page script can replace them.
  const { Blob, File, URL, DOMException, TypeError, WritableStream, MessageChannel, Promise, JSON, Map, ArrayBuffer } =
    globalThis;
  const postToSelf = window.postMessage.bind(window);
  const warn = console.warn.bind(console);
  const INTERNAL = Symbol('internal');
  /** Small writes are coalesced into one message of up to this many bytes. */
  const BATCH_BYTES = 4 << 20;

  // ---- transport: a private channel to the isolated-world bridge ----------
  let port = null;
  let nextId = 0;
  const pending = new Map();

  function connect() {
    const channel = new MessageChannel();
    channel.port1.onmessage = ({ data }) => {
      const settle = pending.get(data?.id);
      if (!settle) return;
      pending.delete(data.id);
      if (data.ok) settle.resolve(data);
      else settle.reject(toError(data.error));
    };
    postToSelf({ type: 'cross-origin-storage:connect' }, '*', [channel.port2]);
    return channel.port1;
  }

  // Blob bytes live in the browser process until every Blob object naming
  // them is garbage-collected, and V8 does not count them: a page that
  // writes from one reused buffer makes no garbage, no GC runs, and the
  // bytes pile up until Chrome's blob storage fails (NotReadableError).
  // Allocating a short-lived buffer of the same size accounts each sent
  // Blob to V8 as external memory, so collection keeps pace with the writes.
  let gcNudge = null;
  const accountForGc = (blob) => {
    if (blob && blob.size >= 1 << 20) gcNudge = new ArrayBuffer(blob.size);
  };

  function call(request, data) {
    accountForGc(data);
    port ??= connect();
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      port.postMessage({ id, request: JSON.stringify(request), data });
    });
  }

  function toError({ name, message } = {}) {
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

  function toOptions(options) {
    if (options == null) return { create: false, origins: undefined };
    if (typeof options !== 'object' && typeof options !== 'function') throw new TypeError('options must be an object');
    const { create, origins } = options;
    let list;
    if (origins != null && typeof origins === 'object' && typeof origins[Symbol.iterator] === 'function') {
      list = Array.from(origins, (o) => canonicalOrigin(String(o)));
    } else if (origins !== undefined) {
      list = canonicalOrigin(String(origins));
    }
    return { create: Boolean(create), origins: list };
  }

  // ---- writable stream ----------------------------------------------------
  function toBlob(data) {
    if (data instanceof Blob) return data;
    if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new Blob([data]);
    throw new TypeError('write() takes a BufferSource, Blob, string, or {type, ...} parameters');
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
    let parts = [];
    let partsBytes = 0;

    async function flush() {
      if (parts.length === 0) return;
      const blob = new Blob(parts);
      parts = [];
      partsBytes = 0;
      await call({ op: 'write', session }, blob);
    }

    async function write(data, position) {
      const blob = toBlob(data);
      if (position == null && blob.size < BATCH_BYTES) {
        parts.push(blob);
        partsBytes += blob.size;
        if (partsBytes >= BATCH_BYTES) await flush();
        return;
      }
      await flush();
      await call({ op: 'write', session, position: position ?? undefined }, blob);
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
            return void (await call({ op: 'seek', session, position: chunk.position }));
          case 'truncate':
            if (chunk.size == null) throw missing('size');
            await flush();
            return void (await call({ op: 'truncate', session, size: chunk.size }));
          default:
            throw new TypeError(`unknown write type ${JSON.stringify(String(chunk.type))}`);
        }
      },
      async close() {
        await flush();
        const { value } = await call({ op: 'close', session });
        for (const warning of value.warnings) warn(`crossOriginStorage: ${warning}`);
        onCommitted();
      },
      async abort() {
        parts = [];
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
  class CrossOriginStorageFileHandle {
    #hash;
    #create;
    #origins;
    #readable;

    constructor(key, hash, { create, origins }) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
      this.#hash = hash;
      this.#create = create;
      this.#origins = origins;
      this.#readable = !create;
    }

    get kind() {
      return 'file';
    }

    get name() {
      return this.#hash.value;
    }

    async getFile() {
      if (!this.#readable) {
        throw new DOMException('this handle was requested with {create: true}; it can read only after its writable closes', 'NotAllowedError');
      }
      const { file } = await call({ op: 'read', hash: this.#hash });
      return new File([file], this.#hash.value, { type: file.type, lastModified: file.lastModified });
    }

    async createWritable() {
      if (!this.#create) {
        throw new DOMException('this handle is read-only; request it with {create: true} to write', 'NotAllowedError');
      }
      const { value } = await call({ op: 'write-begin', hash: this.#hash, origins: this.#origins });
      return createWritableStream(value.session, () => {
        this.#readable = true;
      });
    }

    async isSameEntry(other) {
      return other instanceof CrossOriginStorageFileHandle && other.name === this.name;
    }

    async queryPermission(descriptor) {
      const allowed = descriptor?.mode === 'readwrite' ? this.#create : this.#readable;
      return allowed ? 'granted' : 'denied';
    }

    async requestPermission(descriptor) {
      return this.queryPermission(descriptor);
    }

    async move() {
      throw new DOMException('files in cross-origin storage cannot be moved or renamed', 'NotAllowedError');
    }

    async remove() {
      throw new DOMException('pages cannot delete files from cross-origin storage', 'NotAllowedError');
    }

    async createSyncAccessHandle() {
      throw new DOMException('cross-origin storage files have no sync access handles', 'InvalidStateError');
    }

    get [Symbol.toStringTag]() {
      return 'FileSystemFileHandle';
    }
  }
  // So that `handle instanceof FileSystemFileHandle` holds for libraries that check.
  if (globalThis.FileSystemFileHandle) {
    Object.setPrototypeOf(CrossOriginStorageFileHandle.prototype, globalThis.FileSystemFileHandle.prototype);
  }

  // ---- the manager --------------------------------------------------------
  async function getFileHandle(hash, options) {
    const key = toHash(hash);
    const opts = toOptions(options);
    await call({ op: 'open', hash: key, create: opts.create, origins: opts.origins });
    return new CrossOriginStorageFileHandle(INTERNAL, key, opts);
  }

  class CrossOriginStorageManager {
    constructor(key) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
    }

    getFileHandle(hash, options) {
      return getFileHandle(hash, options);
    }

    /** The spec's earlier name (Transformers.js 4.3, Emscripten, WebLLM). */
    requestFileHandle(hash, options) {
      return getFileHandle(hash, options);
    }

    /** The legacy plural form (Transformers.js 4.0-4.2): all or nothing. */
    async requestFileHandles(hashes, options) {
      if (hashes == null || typeof hashes[Symbol.iterator] !== 'function') {
        throw new TypeError('requestFileHandles takes a sequence of hashes');
      }
      return Promise.all(Array.from(hashes, (hash) => getFileHandle(hash, options)));
    }

    get [Symbol.toStringTag]() {
      return 'CrossOriginStorageManager';
    }
  }

  const manager = new CrossOriginStorageManager(INTERNAL);
  Object.defineProperty(Navigator.prototype, 'crossOriginStorage', {
    get: () => manager,
    enumerable: true,
    configurable: true,
  });
  Object.defineProperty(globalThis, 'CrossOriginStorageManager', {
    value: CrossOriginStorageManager,
    writable: true,
    configurable: true,
  });
})();
