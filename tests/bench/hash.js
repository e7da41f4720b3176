// Hashing micro-benchmark, loaded as an extension page so it runs the very
// Wasm the service worker runs: the engine's verifier fed 4 MiB buffers (as
// the worker feeds written ArrayBuffers) and fed by the byte pump (Blob
// slices, as for written Blobs), against crypto.subtle.digest on the same bytes.
import init, { Store } from '../../extension/pkg/cos_wasm.js';

/** The engine's caller: a top-level document on an origin, its channel's number, no Permissions-Policy header. */
const CALLER = { origin: 'https://bench.test', channel: 1, permissionsPolicy: { kind: 'absent' }, ancestors: [] };
const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');

async function best(runs, fn) {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

window.hashBench = async (mib = 64, runs = 3) => {
  await init({ module_or_path: new URL('../../extension/pkg/cos_wasm_bg.wasm', import.meta.url) });
  const store = new Store(crypto.getRandomValues(new Uint8Array(32)));
  const size = mib << 20;
  const bytes = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(bytes.subarray(off, off + 65536));
  const blob = new Blob([bytes]);
  let digest;
  const subtleMs = await best(runs, async () => {
    digest = hex(await crypto.subtle.digest('SHA-256', bytes));
  });
  // Reading the Blob in 4 MiB slices alone, to separate it from hashing.
  const sliceMs = await best(runs, async () => {
    for (let off = 0; off < size; off += 4 << 20) await blob.slice(off, off + (4 << 20)).arrayBuffer();
  });
  const hash = { algorithm: 'SHA-256', value: digest };

  /**
   * Runs one request to its reply, as the worker's runner does. Only the
   * hashing is real: `write-temp` and `hash-temp` feed the bytes (`hashed`
   * does that); every other step is reported done without any I/O.
   */
  async function request(request, data, hashed = async () => {}) {
    let step = store.page(CALLER, request, data, Date.now());
    while (step.do !== 'done') {
      if (step.do === 'write-temp' || step.do === 'hash-temp') await hashed(step);
      step = store.resume(step.task, { kind: 'done' }, Date.now());
    }
    if (!step.reply.ok) throw new Error(`${request.op}: ${step.reply.error.message}`);
    return step.reply.value;
  }

  /**
   * Best time to hash all the bytes through one write session:
   * `write(session)` sends them, `atClose` performs the close's steps.
   */
  const verified = (write, atClose) =>
    best(runs, async () => {
      const { session } = await request({ op: 'write-begin', hash });
      await write(session);
      // Refused with a DataError (thrown above) unless the verifier agrees with crypto.subtle.
      await request({ op: 'close', session }, undefined, atClose);
    });
  // As the worker gets a page's bytes: 4 MiB ArrayBuffers, each fed as it is written.
  const buffersMs = await verified(async (session) => {
    for (let off = 0; off < size; off += 4 << 20) {
      const piece = bytes.subarray(off, off + (4 << 20));
      await request({ op: 'write', session }, { kind: 'bytes', len: piece.length }, (step) => store.feed(step.task, piece));
    }
  });
  // As for a written Blob: the browser copies it to the temporary file, which
  // is hashed at close through the byte pump (here the Blob stands in for the file).
  const pumpMs = await verified(
    (session) => request({ op: 'write', session }, { kind: 'blob', size }),
    async (step) => {
      if (step.do === 'hash-temp') await store.hashBlob(step.task, blob);
    },
  );
  const mbps = (ms) => size / 1e6 / (ms / 1000);
  return { mib, subtle: mbps(subtleMs), rustBuffers: mbps(buffersMs), rustPump: mbps(pumpMs), blobSlicesOnly: mbps(sliceMs) };
};
window.hashBenchReady = true;
