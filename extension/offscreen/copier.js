// The offscreen document the engine hands large files to (see
// extension/worker/copier.js). Each handed session gets a dedicated worker
// (copier-worker.js) that holds its temporary file with a SyncAccessHandle
// and writes every buffer, then transfers the same buffer here, where it is
// hashed with the store's own SHA-256: two threads share the work, and what
// is hashed is exactly what was written. It decides nothing: the engine
// compares the digest and commits or refuses.

import init, { Sha256 } from '../pkg/cos_wasm.js';
import { COPIER_PORT } from '../worker/copier.js';

/** Bytes of the file's start the engine labels its kind from (cos-core `sniff::SNIFF_BYTES`). */
const HEAD_BYTES = 16;
const SERVICE_WORKER = chrome.runtime.getURL('extension/sw.js');

const wasmReady = init({ module_or_path: chrome.runtime.getURL('extension/pkg/cos_wasm_bg.wasm') });

/**
 * A handed session: its worker, the running digest of what the worker
 * wrote in order, and the operations the worker has not answered yet.
 */
class Copy {
  /** @param {string} session */
  constructor(session) {
    this.session = session;
    this.worker = new Worker(new URL('copier-worker.js', import.meta.url), { type: 'module' });
    /** @type {Sha256 | null} */
    this.hasher = new Sha256();
    /** @type {number[]} */
    this.head = [];
    /** @type {Map<number, (answer: {ok: boolean, name?: string, message?: string}) => void>} */
    this.waiting = new Map();
    this.nextId = 0;
    /** Once the worker failed outside an operation (its script): every answer from then on. @type {{ok: false, name: string, message: string} | null} */
    this.broken = null;
    this.worker.onmessage = ({ data }) => (data.hashed ? this.digest(data) : this.answered(data));
    this.worker.onerror = (event) => {
      this.broken = { ok: false, name: 'UnknownError', message: event.message || 'the copier failed' };
      for (const id of [...this.waiting.keys()]) this.answered({ ...this.broken, id });
    };
  }

  /** @param {{hashed: ArrayBuffer, length: number, pooled: boolean}} data */
  digest({ hashed, length, pooled }) {
    const view = new Uint8Array(hashed, 0, length);
    if (this.head.length < HEAD_BYTES) this.head.push(...view.subarray(0, HEAD_BYTES - this.head.length));
    this.hasher?.update(view);
    if (pooled) this.worker.postMessage({ back: hashed }, [hashed]);
  }

  /** @param {{id: number, ok: boolean, name?: string, message?: string}} answer */
  answered(answer) {
    const reply = this.waiting.get(answer.id);
    this.waiting.delete(answer.id);
    reply?.(answer);
  }

  /**
   * Runs one operation in the worker; resolves with its answer.
   * @param {object} op
   * @param {Transferable[]} [transfer]
   * @returns {Promise<{ok: boolean, name?: string, message?: string}>}
   */
  run(op, transfer = []) {
    // A discard has nothing left to wait for: end() terminates the worker, which lets go of the file.
    if (this.broken) return Promise.resolve(/** @type {any} */ (op).op === 'discard' ? { ok: true } : this.broken);
    const id = ++this.nextId;
    const answer = new Promise((resolve) => this.waiting.set(id, resolve));
    this.worker.postMessage({ ...op, id, session: this.session }, transfer);
    return answer;
  }

  /** The digest of everything digested: the hasher is used up. */
  finish() {
    const sha256 = /** @type {Sha256} */ (this.hasher).finishHex();
    this.hasher = null;
    return { sha256, head: this.head };
  }

  end() {
    this.worker.terminate();
    this.hasher?.free();
    this.hasher = null;
  }
}

/**
 * Performs one request of the service worker for its sessions `copies`.
 * @param {Map<string, Copy>} copies
 * @param {any} request
 * @returns {Promise<{ok: boolean, value?: unknown, name?: string, message?: string}>}
 */
async function perform(copies, request) {
  const { session, op } = request;
  if (op === 'take') {
    await wasmReady;
    const copy = new Copy(session);
    copies.set(session, copy);
    return copy.run({ op, size: request.size });
  }
  const copy = copies.get(session);
  // A discard of a session never taken (or already ended) has nothing to do.
  if (!copy) return op === 'discard' ? { ok: true } : { ok: false, name: 'InvalidStateError', message: 'the copier holds no such file' };
  switch (op) {
    case 'write': {
      const { at, data, digest } = request;
      return copy.run({ op, at, data, digest }, data instanceof ArrayBuffer ? [data] : []);
    }
    case 'truncate':
      return copy.run({ op, size: request.size });
    case 'cancel':
      copy.worker.postMessage({ cancel: true });
      return { ok: true };
    case 'close': {
      const answer = await copy.run({ op });
      copies.delete(session);
      // Every buffer the worker wrote reached digest() before its answer to the close.
      const value = answer.ok ? copy.finish() : undefined;
      copy.end();
      return { ...answer, value };
    }
    case 'discard': {
      copy.worker.postMessage({ cancel: true });
      const answer = await copy.run({ op });
      copies.delete(session);
      copy.end();
      return answer;
    }
    default:
      return { ok: false, name: 'NotSupportedError', message: `unknown copier operation ${op}` };
  }
}

// The service worker connects a runtime port (each side learns when the
// other goes: its sessions end with it, and a new instance starts by closing
// this document), then sends a MessagePort that carries the operations.
// Only the extension's own service worker can message this document.
/** @type {Map<string, Copy> | null} */
let copies = null;

chrome.runtime.onConnect.addListener((port) => {
  const sender = port.sender;
  if (port.name !== COPIER_PORT || sender?.id !== chrome.runtime.id || sender.tab || sender.url !== SERVICE_WORKER) return;
  const own = (copies = new Map());
  port.onDisconnect.addListener(() => {
    for (const copy of own.values()) copy.end();
    own.clear();
    if (copies === own) copies = null;
  });
});

navigator.serviceWorker.onmessage = ({ data, ports: [channel] }) => {
  if (!data?.copierChannel || !channel) return;
  channel.onmessage = async ({ data: request }) => {
    const answer = copies
      ? await perform(copies, request).catch((e) => ({ ok: false, name: e?.name || 'UnknownError', message: String(e?.message ?? e) }))
      : { ok: false, name: 'AbortError', message: 'the service worker that handed the file went away' };
    // Under the service worker's own id (the worker numbers its operations per session).
    channel.postMessage({ ...answer, id: request.id });
  };
};
