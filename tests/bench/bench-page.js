// Workload of scripts/bench, run inside an http page on a.test. Only public
// APIs: navigator.crossOriginStorage (whichever extension provides it) and,
// for the native baseline, the page's own OPFS and crypto.subtle.digest.
const CHUNK = 4 << 20;
const cos = () => navigator.crossOriginStorage;
const hashOf = (value) => ({ algorithm: 'SHA-256', value });

/** byte i = (i * 31 + seed) & 255 (period 256, so every 4 MiB chunk is the same). */
function patternChunk(seed, size = CHUNK) {
  const out = new Uint8Array(size);
  for (let i = 0; i < 256 && i < size; i++) out[i] = (i * 31 + seed) & 255;
  for (let filled = Math.min(256, size); filled < size; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, size - filled));
  return out;
}

/**
 * Yields the `size` bytes of `seed` in chunks of up to 4 MiB. It is one
 * buffer, reused: each consumer below copies or finishes with a chunk before
 * asking for the next, and the page makes no garbage of its own, so the
 * memory measured is the storage path's.
 */
function* chunks(size, seed, chunkSize = CHUNK) {
  const template = patternChunk(seed, Math.min(chunkSize, size));
  for (let off = 0; off < size; off += chunkSize) {
    const n = Math.min(chunkSize, size - off);
    yield n === template.length ? template : template.subarray(0, n);
  }
}

async function drain(stream) {
  const reader = stream.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    bytes += value.byteLength;
  }
}

const opfs = () => navigator.storage.getDirectory();

window.bench = {
  /** Native baseline store: OPFS writable + crypto.subtle.digest of each chunk, overlapped. */
  async nativeStore(name, size, seed) {
    const handle = await (await opfs()).getFileHandle(name, { create: true });
    const w = await handle.createWritable();
    const t0 = performance.now();
    for (const chunk of chunks(size, seed)) await Promise.all([w.write(chunk), crypto.subtle.digest('SHA-256', chunk)]);
    await w.close();
    return performance.now() - t0;
  },
  async nativeRead(name) {
    const t0 = performance.now();
    const file = await (await (await opfs()).getFileHandle(name)).getFile();
    const bytes = await drain(file.stream());
    return { ms: performance.now() - t0, bytes };
  },
  async nativeRemove(name) {
    await (await opfs()).removeEntry(name);
  },

  /** Ours, many write() calls of `chunkSize` bytes. */
  async storeChunks(hex, size, seed, chunkSize = CHUNK) {
    const handle = await cos().getFileHandle(hashOf(hex), { create: true });
    const w = await handle.createWritable();
    const t0 = performance.now();
    for (const chunk of chunks(size, seed, chunkSize)) await w.write(chunk);
    await w.close();
    return performance.now() - t0;
  },
  /** Ours, one write(blob) of the whole file; the Blob is a File in the page's own OPFS (disk-backed). */
  async storeBlob(hex, nativeName) {
    const file = await (await (await opfs()).getFileHandle(nativeName)).getFile();
    const handle = await cos().getFileHandle(hashOf(hex), { create: true });
    const w = await handle.createWritable();
    const t0 = performance.now();
    await w.write(file);
    await w.close();
    return performance.now() - t0;
  },
  /** Ours, fetch(...).body.pipeTo(writable); timed from the fetch. */
  async storePipe(hex, size, seed) {
    const handle = await cos().getFileHandle(hashOf(hex), { create: true });
    const w = await handle.createWritable();
    const t0 = performance.now();
    const response = await fetch(`/bytes?size=${size}&seed=${seed}`);
    await response.body.pipeTo(w);
    return performance.now() - t0;
  },
  /** Ours, read: getFileHandle() to the last byte. */
  async read(hex) {
    const t0 = performance.now();
    const file = await (await cos().getFileHandle(hashOf(hex))).getFile();
    const tFile = performance.now();
    const bytes = await drain(file.stream());
    return { ms: performance.now() - t0, getFileMs: tFile - t0, bytes };
  },
  /** One request's round trip (NotFoundError for an absent hash). */
  async ping() {
    const t0 = performance.now();
    const result = await cos()
      .getFileHandle(hashOf(crypto.randomUUID().replaceAll('-', '').padEnd(64, '0')))
      .then(() => 'found', (e) => e.name);
    return { ms: performance.now() - t0, result };
  },
};
