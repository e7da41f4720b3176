// Streams a synthetic 450,000-digest Public Hash List (spec format, ~29 MB)
// into phl_wasm_bench.wasm in 64 KiB chunks and reports the load time, the
// bytes the list holds, and how much the module's memory grew (Wasm memory
// never shrinks, so the growth is the peak the load cost). Build first:
//   cargo build --release --target wasm32-unknown-unknown -p cos-core --example phl_wasm_bench
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const DIGESTS = 450_000, HUGGING_FACE = 10_000, MANUAL = 100, CHUNK = 64 * 1024;
const wasmPath = new URL('../../../target/wasm32-unknown-unknown/release/examples/phl_wasm_bench.wasm', import.meta.url);

function syntheticList() {
  const lines = ['// Synthetic Public Hash List (phl_wasm_bench)', '// VERSION: bench'];
  const sections = [['SHA-256', 0, DIGESTS - HUGGING_FACE - MANUAL],
    ['SHA-256 HUGGING-FACE', DIGESTS - HUGGING_FACE - MANUAL, DIGESTS - MANUAL], ['SHA-256 MANUAL', DIGESTS - MANUAL, DIGESTS]];
  for (const [name, from, to] of sections) {
    lines.push(`// ===BEGIN ${name}===`);
    for (let i = from; i < to; i++) {
      if (i % 1000 === 0) lines.push(`// digests ${i}..`);
      lines.push(createHash('sha256').update(String(i)).digest('hex'));
    }
    lines.push(`// ===END ${name}===`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

const text = syntheticList();
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath));
const { memory, chunk_alloc, feed, finish, heap_bytes } = instance.exports;
const mib = (n) => (n / 1048576).toFixed(2);
const before = memory.buffer.byteLength;
const start = performance.now(), cpuStart = process.cpuUsage();
for (let at = 0; at < text.length; at += CHUNK) {
  const chunk = text.subarray(at, at + CHUNK);
  const ptr = chunk_alloc(chunk.length);
  new Uint8Array(memory.buffer, ptr, chunk.length).set(chunk);
  feed(ptr, chunk.length);
}
const digests = finish();
const ms = performance.now() - start, cpu = process.cpuUsage(cpuStart);
if (digests !== BigInt(DIGESTS)) throw new Error(`parsed ${digests} digests, expected ${DIGESTS}`);
console.log(`wasm: ${DIGESTS} digests, ${(text.length / 1e6).toFixed(1)} MB streamed in ${CHUNK / 1024} KiB chunks`);
console.log(`load ${ms.toFixed(1)} ms (CPU ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms), list holds ${mib(heap_bytes())} MiB, Wasm memory grew ${mib(memory.buffer.byteLength - before)} MiB (from ${mib(before)} MiB)`);
