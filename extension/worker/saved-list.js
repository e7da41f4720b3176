// The last good refreshed Public Hash List, kept across restarts: its text
// in the extension's OPFS (lists/<name>.txt, written as it downloads, never
// whole in memory) and what is known about it in chrome.storage.local.
//
// A refresh writes a new file; only once it verified does the record point
// at it, so a crash at any moment leaves the previous list intact. Files the
// record does not name are leftovers of such crashes (or replaced lists) and
// are removed at start-up.

const RECORD = 'public-list';
const DIR = 'lists';

/**
 * What the settings page shows about refreshes, and the saved list's
 * identity. `list` is null while no refresh ever succeeded (or the saved one
 * stopped verifying).
 * @typedef {{
 *   list: null | {file: string, sidecar: string, source: 'url' | 'policy', url: string,
 *                 version: string | null, count: number, sections: Record<string, number>},
 *   lastRefresh: number | null,
 *   lastAttempt: number | null,
 *   attemptUrl: string | null,
 *   lastError: string | null,
 * }} ListRecord
 */

/** No refreshed list, no refresh tried. @type {Readonly<ListRecord>} */
export const EMPTY_RECORD = Object.freeze({ list: null, lastRefresh: null, lastAttempt: null, attemptUrl: null, lastError: null });

const listsDir = async () => (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true });

/** @returns {Promise<ListRecord>} */
export async function readRecord() {
  const stored = (await chrome.storage.local.get(RECORD))[RECORD];
  return { ...EMPTY_RECORD, ...(stored && typeof stored === 'object' ? stored : {}) };
}

/** @param {ListRecord} record */
export async function writeRecord(record) {
  await chrome.storage.local.set({ [RECORD]: record });
}

/**
 * A new file for a list being downloaded: `write` it, `close` it, and
 * record its `name` once the list verified; or `discard` it.
 */
export async function newListFile() {
  const dir = await listsDir();
  const name = `${Date.now()}-${crypto.randomUUID()}.txt`;
  const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
  let open = true;
  return {
    name,
    /** @param {Uint8Array<ArrayBuffer>} chunk */
    write: (chunk) => writable.write(chunk),
    async close() {
      open = false;
      await writable.close();
    },
    async discard() {
      if (open) await writable.abort().catch(() => {});
      await dir.removeEntry(name).catch(() => {});
    },
  };
}

/**
 * The saved list's text as a stream, or null if the file is gone.
 * @param {string} name
 */
export async function openListFile(name) {
  try {
    return (await (await (await listsDir()).getFileHandle(name)).getFile()).stream();
  } catch (e) {
    if (/** @type {Error} */ (e).name === 'NotFoundError') return null;
    throw e;
  }
}

/**
 * Removes every list file except `keep` (the recorded one, if any).
 * @param {string | null} keep
 */
export async function removeListFilesExcept(keep) {
  const dir = await listsDir();
  const names = [];
  for await (const name of dir.keys()) if (name !== keep) names.push(name);
  await Promise.all(names.map((name) => dir.removeEntry(name).catch(() => {})));
}
