// Transformers.js (tjs=current: 4.3.x, tjs=legacy: 4.2) embeds two sentences
// with all-MiniLM-L6-v2 from the hub, the ONNX Runtime's files included, with
// the library's own cross-origin storage option on (as the demo app does).
export async function run({ hub, tjs }) {
  const { pipeline, env } = await import(`/vendor/${tjs === 'legacy' ? 'transformers-legacy' : 'transformers'}/transformers.js`);
  env.allowLocalModels = false;
  env.remoteHost = `${hub}/`;
  env.experimental_useCrossOriginStorage = true;
  env.useWasmCache = true;
  // The runtime's files as a hub repo: its LFS pointer gives their hashes before the download.
  const ort = `${hub}/onnxruntime/onnxruntime-web/resolve/main`;
  env.backends.onnx.wasm.wasmPaths = { mjs: `${ort}/ort-wasm-simd-threaded.asyncify.mjs`, wasm: `${ort}/ort-wasm-simd-threaded.asyncify.wasm` };
  env.backends.onnx.wasm.numThreads = 1;
  const extractor = await pipeline('feature-extraction', 'Xenova/all-MiniLM-L6-v2', { device: 'wasm', dtype: 'q8' });
  const output = await extractor(['A man is playing a guitar.', 'Someone is strumming a guitar.'], { pooling: 'mean', normalize: true });
  const [a, b] = output.tolist();
  const similarity = a.reduce((sum, x, i) => sum + x * b[i], 0);
  return { version: env.version, detail: `embeddings ${output.dims.join('×')}, paraphrase similarity ${similarity.toFixed(3)}` };
}
