// Demo page: embeds sentence pairs with the real Transformers.js and shows their similarity.
// Query parameters: hub=<base URL of scripts/hub/server.mjs> (required), dtype=q8|fp32 (default q8),
// ort=plain|lfs (default plain): where the ONNX Runtime files come from, see embed.js;
// tjs=legacy: Transformers.js 4.2 (plural requestFileHandles) instead of 4.3;
// worker=1: the model runs in a Web Worker (worker.js), the pattern of Transformers.js's examples.
// For automation the outcome is published as window.demoResult once done.
const t0 = performance.now(); // measured before Transformers.js itself is loaded

const PAIRS = [
  ['A man is playing a guitar.', 'Someone is strumming a guitar.', 'paraphrase'],
  ['How do I bake sourdough bread?', 'What is the recipe for sourdough bread?', 'paraphrase'],
  ['The stock market fell sharply today.', 'A cat is sleeping on the sofa.', 'unrelated'],
  ['The train leaves at seven in the morning.', 'Photosynthesis converts light into chemical energy.', 'unrelated'],
];

const pageHasCos = 'crossOriginStorage' in navigator;
document.getElementById('cos').textContent = pageHasCos ? 'present' : 'absent';
const status = document.getElementById('status');

/** Runs embed.js in a module worker, the way Transformers.js's examples do. */
function embedInWorker(query, sentences) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => (data.ok ? resolve(data) : reject(new Error(data.error)));
    worker.onerror = (event) => reject(new Error(`worker: ${event.message}`));
    worker.postMessage({ query, sentences });
  });
}

async function run() {
  const inWorker = new URLSearchParams(location.search).get('worker') === '1';
  const sentences = PAIRS.flatMap(([a, b]) => [a, b]);
  const embed = inWorker ? embedInWorker : (await import('./embed.js')).embed;
  const { vectors, dtype, transformers, cosPresent } = await embed(location.search, sentences);
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
  status.textContent = `Done in ${timeToFirstResultMs} ms (dtype ${dtype}${inWorker ? ', in a worker' : ''}).`;

  return {
    ok: true, dtype, timeToFirstResultMs, similarities, cosPresent, transformers, inWorker,
    embeddings: vectors.map((v) => v.slice(0, 8)),
  };
}

run().then(
  (result) => { window.demoResult = result; },
  (err) => {
    console.error(err);
    status.textContent = `Error: ${err?.message ?? err}`;
    status.className = 'error';
    window.demoResult = { ok: false, error: String(err?.stack ?? err), cosPresent: pageHasCos };
  },
);
