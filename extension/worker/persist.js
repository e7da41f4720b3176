// The index lives in chrome.storage.local, one key per entry, so a change
// costs one small write and the worker can be stopped between any two
// requests. Store-wide counters and the user's settings have a key each.
// Content scripts cannot read or write it (see `lockDown`).

const ENTRY = 'entry:';
const TOTALS = 'totals';
const SETTINGS = 'settings';

/**
 * chrome.storage.local is open to content scripts by default: a compromised
 * renderer of any site could read every site's history from the index and
 * forge disclosure. Only the extension's own contexts may use it.
 */
export async function lockDown() {
  await chrome.storage.local.setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' });
}

/** Every persisted record, as stored: the engine checks each one. */
export async function loadPersisted() {
  const all = await chrome.storage.local.get(null);
  return {
    entries: Object.entries(all)
      .filter(([key]) => key.startsWith(ENTRY))
      .map(([, value]) => value),
    totals: all[TOTALS] ?? null,
    settings: all[SETTINGS] ?? null,
  };
}

/**
 * Makes the engine's changes durable; resolves once they are.
 * @param {import('../pkg/cos_wasm.js').Changes} changes
 */
export async function saveChanges({ entries, totals, settings }) {
  /** @type {Record<string, unknown>} */
  const set = {};
  const remove = [];
  for (const { hash, entry } of entries) {
    if (entry) set[ENTRY + hash] = entry;
    else remove.push(ENTRY + hash);
  }
  if (totals) set[TOTALS] = totals;
  if (settings) set[SETTINGS] = settings;
  await Promise.all([
    Object.keys(set).length && chrome.storage.local.set(set),
    remove.length && chrome.storage.local.remove(remove),
  ]);
}
