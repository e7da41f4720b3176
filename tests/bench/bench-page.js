// The large-file workload of scripts/bench and tests/e2e/large.spec.mjs, run
// inside an http page. Only public APIs: navigator.crossOriginStorage
// (whichever extension provides it) and, for the native baselines, the
// page's own OPFS and crypto.subtle.digest. Every function returns what it
// measured; none keeps a file's bytes in memory.
const CHUNK = 4 << 20;
/** The reader's one buffer: BYOB reads fill it again and again, so reading makes no garbage. */
const READ_BUFFER = 1 << 20;
const cos = () => navigator.crossOriginStorage;
const hashOf = (value) => ({ algorithm: 'SHA-256', value });
const opfs = () => navigator.storage.getDirectory();
/**
 * The readers of files being read. Chromium garbage-collects a Blob's stream,
 * its pending read included, once nothing reachable refers to it (the
 * suspended function awaiting the read does not count): a collection in the
 * middle of a read left it unsettled forever, and the test waiting for it
 * (the 8 GiB chunked store's read-back, mostly) stalled with every process
 * idle. Held here until the file is read.
 */
const reading = new Set();

/** Bytes `offset`.. of the pattern of `seed`: byte i = (i * 31 + seed) & 255 (period 256). */
function patternBytes(seed, size, offset = 0) {
  const out = new Uint8Array(size);
  for (let i = 0; i < 256 && i < size; i++) out[i] = ((offset + i) * 31 + seed) & 255;
  for (let filled = Math.min(256, size); filled < size; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, size - filled));
  return out;
}

/**
 * Yields the `size` bytes of `seed` in chunks of up to `chunkSize`. It is one
 * buffer, reused (every chunk-aligned piece of the pattern is the same): each
 * consumer copies or finishes with a chunk before asking for the next, so
 * the page makes no garbage of its own and the memory measured is the
 * storage path's.
 */
function* chunks(size, seed, chunkSize = CHUNK) {
  const template = patternBytes(seed, Math.min(chunkSize, size));
  for (let off = 0; off < size; off += chunkSize) {
    const n = Math.min(chunkSize, size - off);
    yield n === template.length ? template : template.subarray(0, n);
  }
}

/**
 * Reads `file` to its end with a BYOB reader and one reused buffer, checking
 * every byte against the pattern of `seed`: `{bytes, error?}`. Aligned runs
 * are compared four bytes at a time, so checking costs far less than reading.
 */
async function readChecked(file, seed) {
  const reader = file.stream().getReader({ mode: 'byob' });
  reading.add(reader);
  try {
    return await readAll(reader, seed);
  } finally {
    reading.delete(reader);
  }
}

/** readChecked's loop, over `reader`. */
async function readAll(reader, seed) {
  // The pattern from offset 0, long enough to compare one full read at any phase of its period.
  const expected = patternBytes(seed, READ_BUFFER + 256);
  const expectedWords = new Uint32Array(expected.buffer, 0, expected.length >> 2);
  let view = new Uint8Array(READ_BUFFER);
  let offset = 0;
  for (;;) {
    const { done, value } = await reader.read(view);
    if (done) return { bytes: offset };
    const phase = offset & 255;
    const n = value.length;
    let i = 0;
    if ((phase & 3) === 0) {
      const words = new Uint32Array(value.buffer, value.byteOffset, n >> 2);
      const from = phase >> 2;
      for (; i < words.length; i++) if (words[i] !== expectedWords[from + i]) break;
      i <<= 2;
    }
    for (; i < n; i++) {
      if (value[i] !== expected[phase + i]) {
        await reader.cancel();
        return { bytes: offset + i, error: `byte ${offset + i} differs` };
      }
    }
    offset += n;
    view = new Uint8Array(value.buffer);
  }
}

/** A stored file of ours read back: timed from getFileHandle(), with getFile()'s own latency. */
async function timedRead(open, seed) {
  const t0 = performance.now();
  const file = await open();
  const getFileMs = performance.now() - t0;
  const result = await readChecked(file, seed);
  return { ...result, size: file.size, getFileMs, ms: performance.now() - t0 };
}

/** SHA-256 of every 4 MiB slice of `file`, the next slice read while one is digested. */
async function digestSlices(file) {
  const slice = (at) => (at < file.size ? file.slice(at, at + CHUNK).arrayBuffer() : null);
  let next = slice(0);
  for (let at = 0; next; at += CHUNK) {
    const bytes = await next;
    next = slice(at + CHUNK);
    await crypto.subtle.digest('SHA-256', bytes);
  }
}

const ownFile = async (name) => (await (await opfs()).getFileHandle(name)).getFile();
const ownWritable = async (name) => (await (await opfs()).getFileHandle(name, { create: true })).createWritable();
const ourWritable = async (hex) => (await cos().getFileHandle(hashOf(hex), { create: true })).createWritable();

/** ms to fetch(`/bytes`) of `size` and `seed` and pipe the response body into `writable` (which it closes). */
async function pipeTimed(writable, size, seed) {
  const t0 = performance.now();
  await (await fetch(`/bytes?size=${size}&seed=${seed}`)).body.pipeTo(writable);
  return performance.now() - t0;
}

window.bench = {
  /**
   * Native baseline for many write() calls: the page's own OPFS writable and
   * crypto.subtle.digest of each chunk, overlapped. (digest() has no
   * streaming form, so per-chunk digests stand in for the file's hash: the
   * same hashing work, but parallel across threads, which a file's one
   * SHA-256 is not: a little cheaper than the store's job.)
   */
  async nativeChunks(name, size, seed) {
    const w = await ownWritable(name);
    const t0 = performance.now();
    for (const chunk of chunks(size, seed)) await Promise.all([w.write(chunk), crypto.subtle.digest('SHA-256', chunk)]);
    await w.close();
    return performance.now() - t0;
  },
  /**
   * Native baseline for write(blob): the page copies its own disk-backed File
   * `source` into another OPFS file with one write(file) and, at the same
   * time, digests every 4 MiB slice of it (as above: per-slice digests, not
   * one over the whole file in memory, which at 4 or 8 GiB a page cannot do).
   */
  async nativeBlob(source, name) {
    const file = await ownFile(source);
    const w = await ownWritable(name);
    const t0 = performance.now();
    await Promise.all([w.write(file).then(() => w.close()), digestSlices(file)]);
    return performance.now() - t0;
  },
  /** The same bytes as the test's pipeTo into the page's own OPFS (no digest: the page gets none either). */
  async nativePipe(name, size, seed) {
    return pipeTimed(await ownWritable(name), size, seed);
  },
  /** The page's own file `name`, read back like ours. */
  nativeRead(name, seed) {
    return timedRead(() => ownFile(name), seed);
  },
  async nativeRemove(name) {
    await (await opfs()).removeEntry(name);
  },

  /** Ours, many write() calls of `chunk` bytes (4 MiB), optionally pausing `delayMs` after each. */
  async storeChunks(hex, size, seed, { chunk = CHUNK, delayMs = 0 } = {}) {
    const w = await ourWritable(hex);
    const t0 = performance.now();
    for (const bytes of chunks(size, seed, chunk)) {
      await w.write(bytes);
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    }
    await w.close();
    return performance.now() - t0;
  },
  /** Ours, one write(file) of the page's own disk-backed OPFS File `source`. */
  async storeBlob(hex, source) {
    const file = await ownFile(source);
    const w = await ourWritable(hex);
    const t0 = performance.now();
    await w.write(file);
    await w.close();
    return performance.now() - t0;
  },
  /** Ours, fetch(...).body.pipeTo(writable); timed from the fetch. */
  async storePipe(hex, size, seed) {
    return pipeTimed(await ourWritable(hex), size, seed);
  },
  /** Ours, read: getFileHandle() to the last byte, every byte checked. */
  read(hex, seed) {
    return timedRead(async () => (await cos().getFileHandle(hashOf(hex))).getFile(), seed);
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
