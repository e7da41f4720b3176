// The demo's model work, shared by the page (app.js) and its worker (worker.js): loads the real
// Transformers.js with the hub and ONNX Runtime settings of the page's query, then embeds sentences.
// Query parameters: see app.js.

/** Embeds `sentences` (mean pooled, normalized); returns the vectors and where it ran. */
export async function embed(query, sentences) {
  const params = new URLSearchParams(query);
  const hub = params.get('hub');
  if (!hub) throw new Error('missing ?hub=<hub base URL>');
  const dtype = params.get('dtype') ?? 'q8';

  // The bundled build (ONNX Runtime Web included), so no import map or bundler is needed.
  const vendor = params.get('tjs') === 'legacy' ? 'transformers-legacy' : 'transformers';
  const { pipeline, env } = await import(`/vendor/${vendor}/transformers.js`);
  env.allowLocalModels = false;
  env.remoteHost = `${hub}/`;
  // Progressive enhancement: used only when the browser (or our extension) provides the API.
  env.experimental_useCrossOriginStorage = true;
  // Load the ONNX Runtime glue + wasm through Transformers.js's cache path (and so through COS).
  // These are the files the bundled ONNX Runtime would otherwise fetch from a CDN.
  // With ort=plain (a CDN-like URL) Transformers.js learns the wasm's hash only by hashing it after
  // the download, so another origin cannot find it in COS on its first visit; with ort=lfs the hub
  // serves the same files as a Hub repo whose /raw/ LFS pointer gives the hash up front.
  const ortBase = params.get('ort') === 'lfs' ? `${hub}/onnxruntime/onnxruntime-web/resolve/main` : `${hub}/ort`;
  env.useWasmCache = true;
  env.backends.onnx.wasm.wasmPaths = {
    mjs: `${ortBase}/ort-wasm-simd-threaded.asyncify.mjs`,
    wasm: `${ortBase}/ort-wasm-simd-threaded.asyncify.wasm`,
  };
  env.backends.onnx.wasm.numThreads = 1; // pages are not cross-origin isolated

  const extractor = await pipeline('feature-extraction', 'Xenova/all-MiniLM-L6-v2', { device: 'wasm', dtype });
  const output = await extractor(sentences, { pooling: 'mean', normalize: true });
  return { vectors: output.tolist(), dtype, transformers: env.version, cosPresent: 'crossOriginStorage' in navigator };
}
