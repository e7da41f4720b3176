// wllama's documented entry point: loadModelFromUrl().
import { createWllama, generate, LOAD, modelUrl } from '../wllama.js';

export async function run({ hub }) {
  const wllama = createWllama();
  await wllama.loadModelFromUrl(modelUrl(hub), LOAD);
  return { detail: await generate(wllama) };
}
