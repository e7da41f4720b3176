// Everything that changes which files are stored runs one at a time (page
// commits, user deletions), so the index and blobs/ never disagree about a
// file while another change is half done.

import { blobsDir, removeQuietly } from './opfs.js';
import { saveChanges } from './persist.js';

let queue = Promise.resolve();

export function serialized(fn) {
  const run = queue.then(fn);
  queue = run.catch(() => {});
  return run;
}

/**
 * Deletes stored files the engine already removed from its index. The index
 * is persisted first: a crash in between leaves files without entries, which
 * the next start removes, never entries without files.
 */
export async function deleteStored(store, hashes) {
  await saveChanges(store.drainChanges());
  const dir = await blobsDir();
  await Promise.all(hashes.map((hash) => removeQuietly(dir, hash)));
}
