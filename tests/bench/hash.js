// Hashing micro-benchmark, loaded as an extension page so it runs the very
// Wasm the service worker runs: the engine's verifier fed 4 MiB buffers (as
// the worker feeds written ArrayBuffers) and fed by the byte pump (Blob
// slices, as for written Blobs), against crypto.subtle.digest on the same bytes.
import init, { Store } from '../../extension/pkg/cos_wasm.js';

const CALLER = 'https://bench.test';
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
  const store = new Store('', 'bench');
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
  const request = (json, blobSize) => JSON.parse(store.pageRequest(CALLER, JSON.stringify(json), blobSize, Date.now()));
  const hash = { algorithm: 'SHA-256', value: digest };
  /** Best time to hash all the bytes through one write session, `feed` doing one write of `size` bytes. */
  const verified = (feed) =>
    best(runs, async () => {
      const { session } = request({ op: 'write-begin', hash });
      request({ op: 'write', session }, size);
      await feed(session);
      const step = request({ op: 'close', session });
      if (step.do !== 'commit') throw new Error(`verifier disagreed with crypto.subtle: ${JSON.stringify(step)}`);
      store.dropSession(session);
    });
  const buffersMs = await verified(async (session) => {
    for (let off = 0; off < size; off += 4 << 20) store.feed(CALLER, session, bytes.subarray(off, off + (4 << 20)), Date.now());
  });
  const pumpMs = await verified((session) => store.pumpBlob(CALLER, session, blob, undefined, 0));
  const mbps = (ms) => size / 1e6 / (ms / 1000);
  return { mib, subtle: mbps(subtleMs), rustBuffers: mbps(buffersMs), rustPump: mbps(pumpMs), blobSlicesOnly: mbps(sliceMs) };
};
window.hashBenchReady = true;
