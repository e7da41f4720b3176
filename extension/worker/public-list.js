// Loads a Public Hash List into the engine: the text is streamed into the
// Wasm parser (an upstream list is ~88 MB) and used only if it hashes to its
// `.sha256` sidecar; otherwise the engine keeps the list it has.

import { PublicHashListLoader } from '../pkg/cos_wasm.js';

/**
 * @param {import('../pkg/cos_wasm.js').Store} store
 * @param {string} url the list; its sidecar is `${url}.sha256`
 * @returns {Promise<import('../pkg/cos_wasm.js').PublicHashListInfo>}
 */
export async function loadPublicHashList(store, url) {
  const [list, sidecar] = await Promise.all([fetch(url), fetch(`${url}.sha256`)]);
  if (!list.ok || !sidecar.ok || !list.body) throw new Error(`${url}: HTTP ${list.status}, sidecar HTTP ${sidecar.status}`);
  const loader = new PublicHashListLoader();
  const reader = list.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    loader.feed(value);
  }
  return store.usePublicHashList(loader, await sidecar.text());
}
