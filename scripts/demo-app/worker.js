// The model in a Web Worker, as Transformers.js's own examples run it: the page posts the sentences,
// the worker loads the pipeline (and, through the extension, navigator.crossOriginStorage in the
// worker) and posts the embeddings back.
import { embed } from './embed.js';

self.addEventListener('message', async ({ data }) => {
  try {
    self.postMessage({ ok: true, ...(await embed(data.query, data.sentences)) });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err?.stack ?? err) });
  }
});
