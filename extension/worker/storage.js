// Performs the engine's file steps on the extension's origin-private file
// system: committed files in blobs/<sha256>, writes in progress in
// tmp/<session>. Each step does exactly what its name says; which step comes
// when is the engine's business.

/** @typedef {import('./runner.js').Perform} Perform */
/** @typedef {import('./runner.js').TaskContext} TaskContext */
/** @typedef {import('../pkg/cos_wasm.js').Store} Store */

import { cancelCopy, copyBlob } from './copier.js';

/** How often a copy in progress checks that its write is still wanted. */
const COPY_WATCH_MS = 250;
/** File writes of one session that may still be in flight while later requests are handled. */
const WRITES_AHEAD = 2;
/**
 * A Blob is copied into the file in slices of this size, so that a write
 * whose frame went away stops within one slice: the browser's copy of a
 * whole Blob cannot be interrupted once started.
 */
const BLOB_SLICE = 64 << 20;

const root = () => navigator.storage.getDirectory();
const blobsDir = async () => (await root()).getDirectoryHandle('blobs', { create: true });
const tmpDir = async () => (await root()).getDirectoryHandle('tmp', { create: true });

/**
 * Removes an entry (a directory with its contents) if present.
 * @param {FileSystemDirectoryHandle} dir
 * @param {string} name
 */
async function removeQuietly(dir, name) {
  try {
    await dir.removeEntry(name, { recursive: true });
  } catch (e) {
    if (/** @type {Error} */ (e).name !== 'NotFoundError') throw e;
  }
}

/**
 * @param {Store} store
 * @param {(changes: import('../pkg/cos_wasm.js').Changes) => Promise<void>} persist
 * @returns {Perform}
 */
export function createStorage(store, persist) {
  /**
   * Open temporary files by session. `writable` is null while the copier
   * writes the file and after; `closed` once `close-temp` ran; `copying`
   * while a `copy-blob` step is in progress.
   * @typedef {{handle: FileSystemFileHandle, writable: FileSystemWritableFileStream | null, closed: boolean, writes: Promise<void>[], copying: Promise<unknown> | null}} Temp
   * @type {Map<string, Temp>}
   */
  const temps = new Map();

  /** The last write of index changes: each waits for the one before, so changes are durable in the order taken. */
  let persisted = Promise.resolve();

  /**
   * The session's temporary file, open for writing: after a copy, with what
   * the copier wrote kept.
   * @param {string} session
   */
  const temp = async (session) => {
    const open = temps.get(session);
    if (!open || open.closed) throw new DOMException('no open temporary file', 'InvalidStateError');
    open.writable ??= await open.handle.createWritable({ keepExistingData: true });
    return { ...open, writable: open.writable };
  };

  /** @type {Perform} */
  return async (step, context) => {
    switch (step.do) {
      case 'open-temp': {
        const handle = await (await tmpDir()).getFileHandle(step.session, { create: true });
        temps.set(step.session, { handle, writable: await handle.createWritable(), closed: false, writes: [], copying: null });
        return;
      }
      case 'write-temp': {
        const open = await temp(step.session);
        const { data } = context;
        if (!step.feed) {
          // A Blob: the browser copies it to the file (the engine hashes the file later).
          const blob = /** @type {Blob} */ (data);
          for (let at = 0; at < blob.size; at += BLOB_SLICE) {
            if (!store.taskAlive(step.task)) throw new DOMException('the write was abandoned', 'AbortError');
            await open.writable.write({ type: 'write', position: step.at + at, data: blob.slice(at, at + BLOB_SLICE) });
          }
          return;
        }
        // The worker's own copy of the page's bytes: written and hashed from
        // the same buffer. The file write proceeds while the next request is
        // handled (the writable keeps writes in order and reports a failed
        // one at close); at most WRITES_AHEAD are in flight per session.
        const bytes = /** @type {ArrayBuffer} */ (data);
        const written = open.writable.write({ type: 'write', position: step.at, data: bytes });
        written.catch(() => {});
        store.feed(step.task, new Uint8Array(bytes));
        open.writes.push(written);
        while (open.writes.length > WRITES_AHEAD) await open.writes.shift();
        return;
      }
      case 'truncate-temp':
        await (await temp(step.session)).writable.truncate(step.size);
        return;
      case 'copy-blob': {
        const open = temps.get(step.session);
        if (!open || open.closed || open.writable === null) throw new DOMException('no fresh temporary file', 'InvalidStateError');
        // The copier needs the file to itself; nothing was written to it yet.
        const { writable } = open;
        open.writable = null;
        await writable.abort();
        open.copying = copyBlob(step.session, /** @type {Blob} */ (context.data));
        // A write whose frame went away stops now, not when the copy is done:
        // its clean-up waits for this step (it needs the session).
        const watch = setInterval(() => store.taskAlive(step.task) || cancelCopy(step.session), COPY_WATCH_MS);
        try {
          const { sha256, head } = /** @type {{sha256: string, head: number[]}} */ (await open.copying);
          return { kind: 'digested', sha256, head };
        } finally {
          clearInterval(watch);
          open.copying = null;
        }
      }
      case 'close-temp': {
        const open = temps.get(step.session);
        if (!open || open.closed) throw new DOMException('no open temporary file', 'InvalidStateError');
        const { writable } = open;
        open.writable = null;
        open.closed = true;
        await writable?.close();
        return;
      }
      case 'hash-temp': {
        const file = await (await (await tmpDir()).getFileHandle(step.session)).getFile();
        await store.hashBlob(step.task, file);
        return;
      }
      case 'discard-temp': {
        const open = temps.get(step.session);
        temps.delete(step.session);
        if (open?.copying) {
          // The copier closes the file before it stops.
          cancelCopy(step.session);
          await open.copying.catch(() => {});
        }
        await open?.writable?.abort().catch(() => {});
        await removeQuietly(await tmpDir(), step.session);
        return;
      }
      case 'place-blob': {
        const open = temps.get(step.session);
        if (!open?.closed) throw new DOMException('the temporary file is not closed', 'InvalidStateError');
        await open.handle.move(await blobsDir(), step.hash);
        temps.delete(step.session);
        return;
      }
      case 'delete-blobs': {
        const dir = await blobsDir();
        await Promise.all(step.names.map((name) => removeQuietly(dir, name)));
        return;
      }
      case 'read-blob': {
        let handle;
        try {
          handle = await (await blobsDir()).getFileHandle(step.hash);
        } catch (e) {
          if (/** @type {Error} */ (e).name === 'NotFoundError') return { kind: 'missing' };
          throw e;
        }
        context.file = await handle.getFile();
        return { kind: 'found', size: context.file.size };
      }
      case 'list-blobs': {
        /** @type {Array<[string, number | null]>} */
        const files = [];
        for await (const [name, handle] of (await blobsDir()).entries()) {
          files.push([name, handle.kind === 'file' ? (await /** @type {FileSystemFileHandle} */ (handle).getFile()).size : null]);
        }
        return { kind: 'listed', files };
      }
      case 'clear-temps':
        temps.clear();
        await removeQuietly(await root(), 'tmp');
        return;
      case 'persist': {
        const changes = store.takeChanges(step.task);
        persisted = persisted.then(() => persist(changes));
        return persisted;
      }
      default:
        throw new Error(`unknown step ${step.do}`);
    }
  };
}
