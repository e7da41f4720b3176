// wllama with the tiny GGUF model the matrix generates (tests/compat/gguf.mjs),
// served by the hub like a Hugging Face repo (its /raw/ LFS pointer gives the
// SHA-256 that wllama's cache stores it under in cross-origin storage).
import { Wllama } from '/vendor/wllama/index.js';

export const modelUrl = (hub) => `${hub}/compat/tiny-llama-gguf/resolve/main/tiny-llama.gguf`;

/** CPU only, one thread: pages here are not cross-origin isolated, and headless Chromium has no GPU. */
export const LOAD = { n_threads: 1, n_gpu_layers: 0, n_ctx: 128 };

export const createWllama = () =>
  new Wllama({ default: '/vendor/wllama/wasm/wllama.wasm' }, { suppressNativeLog: true, logger: { ...console, debug: () => {}, log: () => {} } });

/** A few greedy tokens: the model loaded and runs. */
export async function generate(wllama) {
  const { choices } = await wllama.createCompletion({ prompt: 'hello world', max_tokens: 6, temperature: 0 });
  const { nVocab, nEmbd, nLayer } = wllama.getModelMetadata().hparams;
  return `generated ${JSON.stringify(choices[0].text)} (vocab ${nVocab}, ${nLayer} layer, embd ${nEmbd})`;
}
