// Byte I/O micro-benchmark, loaded as an extension page: what each way of
// putting bytes into the extension's OPFS costs on this machine, to show
// where a store's time goes and what moving byte I/O to an offscreen
// document would buy. The service worker's own ways (a writable stream fed
// 4 MiB ArrayBuffers, or Blob slices the browser copies) run here in the
// page, which has the same APIs; a dedicated worker, which an offscreen
// document could host, adds FileSystemSyncAccessHandle (io-worker.js).
import init, { Sha256 } from '../../extension/pkg/cos_wasm.js';

const MiB = 1 << 20;
const BUFFER = 4 * MiB;
const BLOB_SLICE = 64 * MiB;

const opfs = () => navigator.storage.getDirectory();
const writableOf = async (name) => (await (await opfs()).getFileHandle(name, { create: true })).createWritable();

/** ms to write `size` bytes as 4 MiB ArrayBuffers, two writes in flight (as the worker writes a page's batches). */
async function writableBuffers(name, size) {
  const writable = await writableOf(name);
  const buffer = new Uint8Array(BUFFER).fill(7);
  const t0 = performance.now();
  const inFlight = [];
  for (let at = 0; at < size; at += BUFFER) {
    inFlight.push(writable.write({ type: 'write', position: at, data: buffer }));
    while (inFlight.length > 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  await writable.close();
  return performance.now() - t0;
}

/** ms to copy the disk-backed File `file` by writing its 64 MiB slices (as the worker stores a write(blob)). */
async function writableBlobSlices(name, file) {
  const writable = await writableOf(name);
  const t0 = performance.now();
  for (let at = 0; at < file.size; at += BLOB_SLICE) {
    await writable.write({ type: 'write', position: at, data: file.slice(at, at + BLOB_SLICE) });
  }
  await writable.close();
  return performance.now() - t0;
}

/** Runs io-worker.js: hashes the buffers it sends on this thread and hands them back. */
function inWorker(message) {
  const worker = new Worker(new URL('io-worker.js', import.meta.url), { type: 'module' });
  const hasher = new Sha256();
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => {
      if (data.hash) {
        hasher.update(new Uint8Array(data.hash, 0, data.length));
        worker.postMessage({ back: data.hash }, [data.hash]);
        return;
      }
      hasher.free();
      worker.terminate();
      if (data.error) reject(new Error(data.error));
      else resolve(data);
    };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage(message);
  });
}

/** MB/s of each way, for `mib` MiB; every file it made is removed again. */
window.ioBench = async (mib = 256) => {
  const size = mib * MiB;
  const mbps = (ms) => size / 1e6 / (ms / 1000);
  const dir = await opfs();
  await init({ module_or_path: new URL('../../extension/pkg/cos_wasm_bg.wasm', import.meta.url) });
  try {
    const buffers = await writableBuffers('io-buffers', size);
    const source = await (await dir.getFileHandle('io-buffers')).getFile();
    const blobSlices = await writableBlobSlices('io-blob', source);
    const worker = await inWorker({ size, source });
    return {
      mib,
      writableBuffers: mbps(buffers),
      writableBlobSlices: mbps(blobSlices),
      syncBuffers: mbps(worker.syncBuffersMs),
      syncReadWrite: mbps(worker.readWriteMs),
      syncReadHashWrite: mbps(worker.readHashWriteMs),
      syncReadWriteHashElsewhere: mbps(worker.splitMs),
    };
  } finally {
    for (const name of ['io-buffers', 'io-blob', 'io-sync']) await dir.removeEntry(name).catch(() => {});
  }
};
window.ioBenchReady = true;
