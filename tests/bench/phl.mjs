// Public Hash List load benchmark (issue 12: a 450,000-digest list must load
// in under 1 s and add under 20 MiB). Not a test: it prints what it measured.
// It runs the extension's own Wasm (extension/pkg, from scripts/build) the way
// the service worker loads a list: streamed in 64 KiB chunks into
// PublicHashListLoader, verified against its sidecar, handed to the Store.
// Wasm memory never shrinks, so its growth is the peak the load cost.
//
//   node tests/bench/phl.mjs
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { initSync, PublicHashListLoader, Store } from '../../extension/pkg/cos_wasm.js';
import { DIGESTS, syntheticList } from './synthetic-list.mjs';

const CHUNK = 64 * 1024;

const wasm = initSync({ module: readFileSync(new URL('../../extension/pkg/cos_wasm_bg.wasm', import.meta.url)) });
const store = new Store(new Uint8Array(32));
const text = syntheticList();
const sidecar = `${createHash('sha256').update(text).digest('hex')}  public_hash_list.txt\n`;
const mib = (n) => (n / 1048576).toFixed(2);

const before = wasm.memory.buffer.byteLength;
const start = performance.now();
const cpuStart = process.cpuUsage();
const loader = new PublicHashListLoader();
for (let at = 0; at < text.length; at += CHUNK) loader.feed(text.subarray(at, at + CHUNK));
const info = store.usePublicHashList(loader, sidecar);
const ms = performance.now() - start;
const cpu = process.cpuUsage(cpuStart);
if (info.count !== DIGESTS) throw new Error(`loaded ${info.count} digests, expected ${DIGESTS}`);
console.log(`Public Hash List: ${DIGESTS} digests, ${(text.length / 1e6).toFixed(1)} MB streamed in ${CHUNK / 1024} KiB chunks and verified`);
console.log(`load ${ms.toFixed(0)} ms (CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms), Wasm memory grew ${mib(wasm.memory.buffer.byteLength - before)} MiB (targets: < 1000 ms, < 20 MiB)`);
