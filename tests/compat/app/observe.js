// Records what a library calls on navigator.crossOriginStorage, as it calls
// it: the manager's methods and its handles' (wrapped as own properties of
// the manager and of each handle), and what reaches each writable (write with
// the kind of its data, close, pipeTo: seen on the stream prototypes, since a
// writable's own methods may not be replaceable), in order, each with how it
// settled. Installed before the library loads, so it works for the
// extension's API and for a stand-in alike, in a window or a worker.
// `pending` counts calls still in flight: the harness waits for the library's
// background stores before it reports.

const kindOf = (data) =>
  data instanceof Blob ? 'Blob'
  : data instanceof ArrayBuffer ? 'ArrayBuffer'
  : ArrayBuffer.isView(data) ? data.constructor.name
  : typeof data === 'string' ? 'string'
  : data && typeof data === 'object' ? `{type: '${data.type}'}`
  : typeof data;

const sizeOf = (data) => data?.size ?? data?.byteLength ?? data?.length ?? data?.data?.size ?? data?.data?.byteLength ?? 0;

export function observe(scope = globalThis) {
  const record = { calls: [], pending: 0, lastCallAt: 0 };
  const manager = scope.navigator?.crossOriginStorage;
  if (!manager) return record;

  /**
   * `original`, recording each call as `name` (with what `describe(...args)`
   * says) and how it settled; `then(result, call)` sees what it resolved to.
   */
  const recorded = (original, name, describe = () => ({}), then = () => {}) =>
    function (...args) {
      const call = { method: name, ...describe(...args) };
      record.calls.push(call);
      record.pending++;
      record.lastCallAt = performance.now();
      const settle = (outcome) => {
        call.outcome = outcome;
        record.pending--;
        record.lastCallAt = performance.now();
      };
      let result;
      try {
        result = Promise.resolve(original.apply(this, args));
      } catch (error) {
        result = Promise.reject(error);
      }
      return result.then(
        (value) => {
          settle('ok');
          then(value, call);
          return value;
        },
        (error) => {
          settle(error?.name ?? 'Error');
          throw error;
        },
      );
    };
  const wrap = (target, name, describe, then) => {
    if (typeof target[name] !== 'function') return;
    Object.defineProperty(target, name, { configurable: true, writable: true, value: recorded(target[name], name, describe, then) });
  };

  /** The writables the library got; each chunk reaches one through a writer, whoever calls write(). */
  const writables = new WeakSet();
  const writers = new WeakSet();
  const { WritableStream, WritableStreamDefaultWriter, ReadableStream } = scope;
  const getWriter = WritableStream.prototype.getWriter;
  WritableStream.prototype.getWriter = function (...args) {
    const writer = getWriter.apply(this, args);
    if (writables.has(this)) writers.add(writer);
    return writer;
  };
  /** Records `proto[name]` when `ours(this, args)`; other streams are left as they are. */
  const onStreams = (proto, name, ours, describe) => {
    const original = proto[name];
    const recording = recorded(original, name, describe);
    proto[name] = function (...args) {
      return (ours(this, args) ? recording : original).apply(this, args);
    };
  };
  onStreams(WritableStreamDefaultWriter.prototype, 'write', (w) => writers.has(w), (data) => ({ data: kindOf(data), bytes: sizeOf(data) }));
  onStreams(WritableStreamDefaultWriter.prototype, 'close', (w) => writers.has(w));
  onStreams(WritableStream.prototype, 'close', (s) => writables.has(s));
  onStreams(ReadableStream.prototype, 'pipeTo', (_, [destination]) => writables.has(destination));

  const observeHandle = (handle) => {
    wrap(handle, 'getFile', undefined, (file, call) => (call.bytes = file.size));
    wrap(handle, 'createWritable', undefined, (writable) => writables.add(writable));
  };
  const options = (opts) => ({ create: Boolean(opts?.create), ...(opts?.origins !== undefined && { origins: opts.origins }) });
  for (const name of ['getFileHandle', 'requestFileHandle']) {
    wrap(manager, name, (hash, opts) => options(opts), observeHandle);
  }
  wrap(manager, 'requestFileHandles', (hashes, opts) => ({ ...options(opts), count: hashes?.length }), (handles) => handles.forEach(observeHandle));
  return record;
}

/** Resolves once no call is in flight and none started for `quietMs` (a library stores after it answers). */
export async function quiet(record, quietMs = 1500, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  while (record.pending > 0 || performance.now() - record.lastCallAt < quietMs) {
    if (performance.now() > deadline) throw new Error(`${record.pending} cross-origin storage calls still in flight`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
