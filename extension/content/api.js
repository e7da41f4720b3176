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
  const { TextEncoder, Uint8Array } = globalThis;
  const postToSelf = window.postMessage.bind(window);
  const warn = console.warn.bind(console);
  const info = console.info.bind(console);
  const INTERNAL = Symbol('internal');
  /** Small writes are coalesced into one message of up to this many bytes. */
  const BATCH_BYTES = 4 << 20;
  /** Write requests a writable may have on their way at once. */
  const WRITES_IN_FLIGHT = 3;
  /** `lastModified` of every file read from the store: a constant (the Unix epoch). */
  const LAST_MODIFIED = 0;

  // ---- transport: a private channel to the isolated-world bridge ----------
  let port = null;
  let nextId = 0;
  const pending = new Map();
  /**
   * Batch buffers the bridge has handed back once their bytes were sent.
   * Reusing them matters: each fresh 4 MiB buffer costs a thousand page
   * faults to fill, more CPU than the copy itself.
   */
  const spareBuffers = [];
  /** Writable streams not yet closed or aborted; with none, no spare buffer is kept. */
  let openWritables = 0;

  function connect() {
    const channel = new MessageChannel();
    channel.port1.onmessage = ({ data }) => {
      if (data?.spent instanceof ArrayBuffer) {
        const wanted = openWritables > 0 && spareBuffers.length <= WRITES_IN_FLIGHT;
        if (data.spent.byteLength === BATCH_BYTES && wanted) spareBuffers.push(data.spent);
        return;
      }
      const settle = pending.get(data?.id);
      if (!settle) return;
      pending.delete(data.id);
      if (data.ok) settle.resolve(data);
      else settle.reject(toError(data.error));
    };
    postToSelf({ type: 'cross-origin-storage:connect' }, '*', [channel.port2]);
    return channel.port1;
  }

  /** Sends one request; `data` (a Blob, or an ArrayBuffer that is transferred) travels beside it. */
  function call(request, data) {
    port ??= connect();
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      port.postMessage({ id, request, data }, data instanceof ArrayBuffer ? [data] : []);
    });
  }

  /**
   * Once per page load, when the store answers NotFoundError or
   * NotAllowedError: where the developer can see why. Identical for every
   * cause (a plain miss included), so it tells nothing the error did not.
   */
  const HINT = 'crossOriginStorage: a file was not available; open the Cross-Origin Storage panel in DevTools to see why';
  let hinted = false;

  /** @param {{ name?: string, message?: string }} [error] the worker's `{name, message}` */
  function toError({ name, message } = {}) {
    if (!hinted && (name === 'NotFoundError' || name === 'NotAllowedError')) {
      hinted = true;
      info(HINT);
    }
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
      // The stored file's own time says when it was first stored: history,
      // and the same value on every site that reads it. Never exposed.
      return new File([file], this.#hash.value, { type: file.type, lastModified: LAST_MODIFIED });
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
  // `method` names the API method called, for the developer tools only.
  async function getFileHandle(hash, options, method) {
    const key = toHash(hash);
    const opts = toOptions(options);
    await call({ op: 'open', hash: key, create: opts.create, origins: opts.origins, method });
    return new CrossOriginStorageFileHandle(INTERNAL, key, opts);
  }

  class CrossOriginStorageManager {
    constructor(key) {
      if (key !== INTERNAL) throw new TypeError('Illegal constructor');
    }

    getFileHandle(hash, options) {
      return getFileHandle(hash, options, 'getFileHandle');
    }

    /** The spec's earlier name (Transformers.js 4.3, Emscripten, WebLLM). */
    requestFileHandle(hash, options) {
      return getFileHandle(hash, options, 'requestFileHandle');
    }

    /** The legacy plural form (Transformers.js 4.0-4.2): all or nothing. */
    async requestFileHandles(hashes, options) {
      if (hashes == null || typeof hashes[Symbol.iterator] !== 'function') {
        throw new TypeError('requestFileHandles takes a sequence of hashes');
      }
      return Promise.all(Array.from(hashes, (hash) => getFileHandle(hash, options, 'requestFileHandles')));
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
