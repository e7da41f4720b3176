// Performs the engine's file steps on the extension's origin-private file
// system: committed files in blobs/<sha256>, writes in progress in
// tmp/<session>. Each step does exactly what its name says; which step comes
// when is the engine's business.

/** @typedef {import('./runner.js').Perform} Perform */
/** @typedef {import('./runner.js').TaskContext} TaskContext */
/** @typedef {import('../pkg/cos_wasm.js').Store} Store */

import * as copier from './copier.js';

/** How often a Blob write the copier performs checks that it is still wanted. */
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
   * Open temporary files by session. `writable` is null once the file was
   * handed to the copier (`handed`) or closed (`closed`); `writes` are the
   * file writes still in flight.
   * @typedef {{handle: FileSystemFileHandle, writable: FileSystemWritableFileStream | null, handed: boolean, closed: boolean, writes: Promise<unknown>[]}} Temp
   * @type {Map<string, Temp>}
   */
  const temps = new Map();

  /** The last write of index changes: each waits for the one before, so changes are durable in the order taken. */
  let persisted = Promise.resolve();

  /**
   * The session's temporary file, open for writing.
   * @param {string} session
   */
  const temp = (session) => {
    const open = temps.get(session);
    if (!open || open.closed) throw new DOMException('no open temporary file', 'InvalidStateError');
    return open;
  };

  /**
   * Keeps a file write in flight while the next request is handled (writes
   * are kept in order, and a failed one is reported by the next wait or at
   * close); waits while more than WRITES_AHEAD are.
   * @param {Temp} open
   * @param {Promise<unknown>} written
   */
  const ahead = async (open, written) => {
    written.catch(() => {});
    open.writes.push(written);
    while (open.writes.length > WRITES_AHEAD) await open.writes.shift();
  };

  /** @param {Temp} open */
  const allWritten = async (open) => {
    for (const written of open.writes.splice(0)) await written;
  };

  /**
   * A Blob the copier writes: stopped when its frame goes away, not when it
   * is done (the write's clean-up needs the session this step holds).
   * @param {number} task
   * @param {string} session
   * @param {Promise<unknown>} written
   */
  const watched = async (task, session, written) => {
    const watch = setInterval(() => store.taskAlive(task) || copier.cancel(session), COPY_WATCH_MS);
    try {
      await written;
    } finally {
      clearInterval(watch);
    }
  };

  /** @type {Perform} */
  return async (step, context) => {
    switch (step.do) {
      case 'open-temp': {
        const handle = await (await tmpDir()).getFileHandle(step.session, { create: true });
        temps.set(step.session, { handle, writable: await handle.createWritable(), handed: false, closed: false, writes: [] });
        return;
      }
      case 'hand-temp': {
        const open = temp(step.session);
        // The copier needs the file to itself: what was written is flushed first.
        await allWritten(open);
        const writable = /** @type {FileSystemWritableFileStream} */ (open.writable);
        open.writable = null;
        open.handed = true;
        await writable.close();
        await copier.handOver(step.session, step.size);
        return;
      }
      case 'write-temp': {
        const open = temp(step.session);
        const { data } = context;
        if (open.handed) {
          const written = copier.write(step.session, step.at, /** @type {Blob | ArrayBuffer} */ (data), step.feed);
          if (data instanceof Blob) return watched(step.task, step.session, written);
          return ahead(open, written);
        }
        const writable = /** @type {FileSystemWritableFileStream} */ (open.writable);
        if (!step.feed) {
          // A Blob: the browser copies it to the file (the engine hashes the file later).
          const blob = /** @type {Blob} */ (data);
          for (let at = 0; at < blob.size; at += BLOB_SLICE) {
            if (!store.taskAlive(step.task)) throw new DOMException('the write was abandoned', 'AbortError');
            await writable.write({ type: 'write', position: step.at + at, data: blob.slice(at, at + BLOB_SLICE) });
          }
          return;
        }
        // The worker's own copy of the page's bytes: written and hashed from the same buffer.
        const bytes = /** @type {ArrayBuffer} */ (data);
        const queued = ahead(open, writable.write({ type: 'write', position: step.at, data: bytes }));
        store.feed(step.task, new Uint8Array(bytes));
        return queued;
      }
      case 'truncate-temp': {
        const open = temp(step.session);
        if (open.handed) return void (await copier.truncate(step.session, step.size));
        await /** @type {FileSystemWritableFileStream} */ (open.writable).truncate(step.size);
        return;
      }
      case 'close-temp': {
        const open = temp(step.session);
        const { writable } = open;
        open.writable = null;
        open.closed = true;
        if (!open.handed) return void (await writable?.close());
        await allWritten(open);
        const { sha256, head } = await copier.close(step.session);
        return { kind: 'digested', sha256, head };
      }
      case 'hash-temp': {
        const file = await (await (await tmpDir()).getFileHandle(step.session)).getFile();
        await store.hashBlob(step.task, file);
        return;
      }
      case 'discard-temp': {
        const open = temps.get(step.session);
        temps.delete(step.session);
        // The copier lets go of the file first (a write in progress stops).
        if (open?.handed) await copier.discard(step.session);
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
