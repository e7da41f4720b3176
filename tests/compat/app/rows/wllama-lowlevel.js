// wllama through its lower-level calls: its cache manager downloads the model
// (into cross-origin storage when the API exists) and opens it, and the
// model is loaded from that Blob. The workaround for loadModelFromUrl().
import { createWllama, generate, LOAD, modelUrl } from '../wllama.js';

export async function run({ hub }) {
  const wllama = createWllama();
  const url = modelUrl(hub);
  await wllama.cacheManager.download(url);
  const model = await wllama.cacheManager.open(url);
  if (!model) throw new Error(`the cache has no ${url} after its download`);
  await wllama.loadModel([model], LOAD);
  return { detail: await generate(wllama) };
}
