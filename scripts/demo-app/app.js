// Demo page: embeds sentence pairs with the real Transformers.js and shows their similarity.
// Query parameters: hub=<base URL of scripts/hub/server.mjs> (required), dtype=q8|fp32 (default q8),
// ort=plain|lfs (default plain): where the ONNX Runtime files come from, see below;
// tjs=legacy: Transformers.js 4.2 (plural requestFileHandles) instead of 4.3.
// For automation the outcome is published as window.demoResult once done.
const t0 = performance.now(); // measured before Transformers.js itself is loaded

const PAIRS = [
  ['A man is playing a guitar.', 'Someone is strumming a guitar.', 'paraphrase'],
  ['How do I bake sourdough bread?', 'What is the recipe for sourdough bread?', 'paraphrase'],
  ['The stock market fell sharply today.', 'A cat is sleeping on the sofa.', 'unrelated'],
  ['The train leaves at seven in the morning.', 'Photosynthesis converts light into chemical energy.', 'unrelated'],
];

const cosPresent = 'crossOriginStorage' in navigator;
document.getElementById('cos').textContent = cosPresent ? 'present' : 'absent';
const status = document.getElementById('status');

async function run() {
  const params = new URLSearchParams(location.search);
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
  const sentences = PAIRS.flatMap(([a, b]) => [a, b]);
  const output = await extractor(sentences, { pooling: 'mean', normalize: true });
  const vectors = output.tolist();
  const timeToFirstResultMs = Math.round(performance.now() - t0);

  const dot = (u, v) => u.reduce((s, x, i) => s + x * v[i], 0);
  const similarities = PAIRS.map(([a, b, kind], i) => ({ a, b, kind, score: dot(vectors[2 * i], vectors[2 * i + 1]) }));

  const tbody = document.querySelector('#results tbody');
  for (const { a, b, kind, score } of similarities) {
    const row = tbody.insertRow();
    row.className = kind;
    for (const text of [a, b, kind]) row.insertCell().textContent = text;
    Object.assign(row.insertCell(), { className: 'score', textContent: score.toFixed(3) });
  }
  document.getElementById('results').hidden = false;
  status.textContent = `Done in ${timeToFirstResultMs} ms (dtype ${dtype}).`;

  return {
    ok: true, dtype, timeToFirstResultMs, similarities, cosPresent, transformers: env.version,
    embeddings: vectors.map((v) => v.slice(0, 8)),
  };
}

run().then(
  (result) => { window.demoResult = result; },
  (err) => {
    console.error(err);
    status.textContent = `Error: ${err?.message ?? err}`;
    status.className = 'error';
    window.demoResult = { ok: false, error: String(err?.stack ?? err), cosPresent };
  },
);
