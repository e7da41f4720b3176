// In-page helpers for the end-to-end tests. They use only the public API, as
// a web app would.
function cos() {
  return navigator.crossOriginStorage;
}

async function sha256Hex(data) {
  const bytes = data instanceof Blob ? await data.arrayBuffer() : data;
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function hashOf(value) {
  return { algorithm: 'SHA-256', value };
}

/** Deterministic bytes (same formula as tests/e2e/server.mjs). */
function patternBytes(size, seed = 0) {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 255;
  return out;
}

/** Stores `bytes` under its own hash (or `declared`) with `options`; returns the hex hash. */
async function storeBytes(bytes, options = {}, declared) {
  const value = declared ?? (await sha256Hex(bytes));
  const handle = await cos().getFileHandle(hashOf(value), { create: true, ...options });
  const writable = await handle.createWritable();
  await writable.write(bytes);
  await writable.close();
  return value;
}

/** Reads the file for `value`; returns its hex hash and size, recomputed from the bytes received. */
async function readBack(value) {
  const handle = await cos().getFileHandle(hashOf(value));
  const file = await handle.getFile();
  return { size: file.size, hash: await sha256Hex(file), name: file.name };
}

/** Runs `fn`, returning {name, message} of what it threw, or {ok: value}. */
async function outcome(fn) {
  try {
    return { ok: await fn() };
  } catch (e) {
    return { name: e.name, message: e.message };
  }
}

/**
 * Speaks the bridge protocol directly, as any script on a page can: posts a
 * connect message to `target` (this window by default) and returns a function
 * sending raw requests. Replies are summarised (a File cannot leave the page).
 */
function rawChannel(target = window) {
  const { port1, port2 } = new MessageChannel();
  target.postMessage({ type: 'cross-origin-storage:connect' }, '*', [port2]);
  port1.start();
  let nextId = 0;
  return (request, data, timeoutMs = 3000) =>
    new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => resolve({ timeout: true }), timeoutMs);
      port1.addEventListener('message', function onReply({ data: reply }) {
        if (reply?.id !== id) return;
        clearTimeout(timer);
        port1.removeEventListener('message', onReply);
        resolve({ ok: reply.ok, error: reply.error, value: reply.value, fileSize: reply.file?.size });
      });
      port1.postMessage({ id, request, data });
    });
}

/**
 * Answers `{id, fn, arg}` messages on `target` (a worker's global or a
 * port) with `{id, ok}` or `{id, error: {name, message}}`, running `fn` (a
 * function's source text) on `arg`; announces itself with `{ready: true}`.
 */
function serveCalls(target) {
  target.onmessage = async ({ data }) => {
    if (typeof data?.fn !== 'string') return;
    try {
      target.postMessage({ id: data.id, ok: await (0, eval)(`(${data.fn})`)(data.arg) });
    } catch (e) {
      target.postMessage({ id: data.id, error: { name: e?.name, message: e?.message } });
    }
  };
  target.postMessage({ ready: true });
}

/** Calls into a worker served by serveCalls over `target` (a Worker or a MessagePort). */
function callsTo(target) {
  let nextId = 0;
  const waiting = new Map();
  let ready;
  const started = new Promise((resolve) => (ready = resolve));
  target.onmessage = ({ data }) => {
    if (data?.ready) return ready();
    waiting.get(data?.id)?.(data);
    waiting.delete(data?.id);
  };
  const call = (fn, arg) =>
    started.then(
      () =>
        new Promise((resolve, reject) => {
          const id = ++nextId;
          waiting.set(id, ({ ok, error }) => (error ? reject(Object.assign(new Error(error.message), { name: error.name })) : resolve(ok)));
          target.postMessage({ id, fn: String(fn), arg });
        }),
    );
  return { call, started, target };
}

/** Starts a dedicated worker (workers/rpc.js by default) and returns `{call(fn, arg), worker}`. */
function startWorker(url = '/workers/rpc.js', options = undefined) {
  const worker = new Worker(url, options);
  return { ...callsTo(worker), worker };
}

/** Connects to a shared worker (workers/rpc-shared.js by default) and returns `{call(fn, arg), worker}`. */
function startSharedWorker(url = '/workers/rpc-shared.js', options = undefined) {
  const worker = new SharedWorker(url, options);
  return { ...callsTo(worker.port), worker };
}
