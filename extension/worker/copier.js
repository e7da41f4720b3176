// The service worker's side of the copier: the offscreen document
// extension/offscreen/copier.html, to which the engine hands large files
// (`hand-temp` steps, see storage.js). From then on the document writes the
// session's temporary file with a SyncAccessHandle (which a service worker
// lacks) on one thread and digests the same buffers on another, which the
// service worker's one thread cannot match (README, Performance). It decides
// nothing: the engine compares its digest at close and commits or refuses.
//
// The document exists while files are handed to it. If it closes or crashes,
// every operation of its sessions fails like any other storage step: the
// engine ends each session and its temporary file is discarded.

export const COPIER_DOCUMENT = 'extension/offscreen/copier.html';
/** The port's name; the document accepts it from the service worker only. */
export const COPIER_PORT = 'cos-copier';

/**
 * The file size from which the engine hands a session to the document
 * (Engine::set_copier_from). A smaller file costs less than starting it.
 */
export const COPY_FROM_BYTES = 32 << 20;

/** Opening and closing the document, one after the other. */
let lifecycle = Promise.resolve();
/** Sessions handed to the document and not yet closed or discarded. */
const handed = new Set();
/**
 * The open document: `port` tells each side when the other goes (a
 * runtime port's disconnect); `channel`, a MessagePort of the document's,
 * carries the operations, buffers transferred rather than copied (a runtime
 * port copies them through the browser process again: page bytes passed on
 * that way stored at 0.34x native, against 0.45x for the worker itself).
 * @type {{port: chrome.runtime.Port, channel: MessagePort} | null}
 */
let open = null;
let nextId = 0;
/** @type {Map<number, {resolve: (value: any) => void, reject: (error: unknown) => void}>} */
const pending = new Map();

/** @param {() => Promise<void>} change */
function queued(change) {
  lifecycle = lifecycle.then(change, change);
  return lifecycle;
}

/** Everything still waiting on the document fails: it went away. */
function lost() {
  open?.channel.close();
  open = null;
  for (const { reject } of pending.values()) reject(new DOMException('the copier closed', 'AbortError'));
  pending.clear();
}

function createDocument() {
  return chrome.offscreen.createDocument({
    url: COPIER_DOCUMENT,
    reasons: [chrome.offscreen.Reason.WORKERS],
    justification: 'writes large files into the extension storage and hashes them on two threads',
  });
}

/** The open document as a client of this service worker, if it is there. */
async function documentClient() {
  const url = chrome.runtime.getURL(COPIER_DOCUMENT);
  // The service worker's Clients API (tsconfig checks against the DOM library, which lacks it).
  /** @type {{clients: {matchAll(options: object): Promise<Array<{url: string, postMessage(message: unknown, transfer: Transferable[]): void}>>}}} */
  const sw = /** @type {any} */ (globalThis);
  return (await sw.clients.matchAll({ includeUncontrolled: true })).find((client) => client.url === url);
}

async function ensureOpen() {
  if (open) return;
  if (!(await chrome.offscreen.hasDocument())) await createDocument();
  let document = await documentClient();
  if (!document) {
    // Listed by the browser but not reachable (its process went, say; not seen here): without a
    // fresh start, every large write would fail until the service worker restarts.
    await chrome.offscreen.closeDocument().catch(() => {});
    await createDocument();
    document = await documentClient();
  }
  if (!document) throw new DOMException('the copier document did not start', 'InvalidStateError');
  const port = chrome.runtime.connect({ name: COPIER_PORT });
  port.onDisconnect.addListener(lost);
  const { port1: channel, port2 } = new MessageChannel();
  channel.onmessage = ({ data: { id, ok, value, name, message } }) => {
    const waiting = pending.get(id);
    pending.delete(id);
    if (ok) waiting?.resolve(value);
    else waiting?.reject(new DOMException(message, name));
  };
  document.postMessage({ copierChannel: true }, [port2]);
  open = { port, channel };
}

/** Closes the document unless a session was handed to it meanwhile. */
async function closeIfIdle() {
  if (handed.size > 0) return;
  open?.port.disconnect();
  lost();
  if (await chrome.offscreen.hasDocument()) await chrome.offscreen.closeDocument();
}

/**
 * One operation on a handed session, answered by the document once done.
 * @param {string} session
 * @param {string} op
 * @param {object} [args]
 */
function ask(session, op, args = {}) {
  if (!open) return Promise.reject(new DOMException('the copier closed', 'AbortError'));
  const id = ++nextId;
  const answered = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  const { data } = /** @type {{data?: unknown}} */ (args);
  open.channel.postMessage({ id, session, op, ...args }, data instanceof ArrayBuffer ? [data] : []);
  return answered;
}

/**
 * Hands tmp/`session` to the document, which digests its first `size` bytes.
 * @param {string} session
 * @param {number} size
 */
export async function handOver(session, size) {
  handed.add(session);
  await queued(ensureOpen);
  await ask(session, 'take', { size });
}

/**
 * Writes `data` at `at` (and digests it, with `digest`): resolves once it is written.
 * @param {string} session
 * @param {number} at
 * @param {ArrayBuffer | Blob} data
 * @param {boolean} digest
 */
export const write = (session, at, data, digest) => ask(session, 'write', { at, data, digest });

/**
 * @param {string} session
 * @param {number} size
 */
export const truncate = (session, size) => ask(session, 'truncate', { size });

/**
 * Closes the file once every earlier operation is done: the digest of what
 * was digested, in order, and the file's first bytes.
 * @param {string} session
 * @returns {Promise<{sha256: string, head: number[]}>}
 */
export function close(session) {
  return ask(session, 'close').finally(() => release(session));
}

/**
 * Stops a Blob write in progress for `session` (its frame went away): that
 * write fails with an AbortError.
 * @param {string} session
 */
export function cancel(session) {
  ask(session, 'cancel').catch(() => {});
}

/**
 * Stops whatever the document does for `session` and lets go of its file
 * (resolves then, or at once if the document is gone).
 * @param {string} session
 */
export function discard(session) {
  return ask(session, 'discard')
    .catch(() => {})
    .finally(() => release(session));
}

/** @param {string} session */
function release(session) {
  if (handed.delete(session) && handed.size === 0) queued(closeIfIdle).catch(() => {});
}

/** At the worker's start: a document left by the previous instance holds no file open any more. */
export function closeLeftoverCopier() {
  return queued(closeIfIdle).catch(() => {});
}
