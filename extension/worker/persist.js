// The index lives in chrome.storage.local, one key per entry, so a change
// costs one small write and the worker can be stopped between any two
// requests. Store-wide counters and the user's settings have a key each.
// Content scripts cannot read or write it (see `lockDown`).

const ENTRY = 'entry:';
const TOTALS = 'totals';
const SETTINGS = 'settings';
/** A site's probe window (the probe budget). */
const PROBES = 'probes:';
/** The user's own Public Hash List entries. */
const MANUAL_HASHES = 'manual-hashes';

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
  const prefixed = (/** @type {string} */ prefix) =>
    Object.entries(all)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, value]) => /** @type {[string, unknown]} */ ([key.slice(prefix.length), value]));
  return {
    entries: prefixed(ENTRY).map(([, value]) => value),
    totals: all[TOTALS] ?? null,
    settings: all[SETTINGS] ?? null,
    probes: prefixed(PROBES),
    manualHashes: all[MANUAL_HASHES] ?? null,
  };
}

/**
 * Makes the engine's changes durable; resolves once they are.
 * @param {import('../pkg/cos_wasm.js').Changes} changes
 */
export async function saveChanges({ entries, totals, settings, probes, manualHashes }) {
  /** @type {Record<string, unknown>} */
  const set = {};
  /** @type {string[]} */
  const remove = [];
  const apply = (/** @type {string} */ key, /** @type {unknown} */ value) => (value ? (set[key] = value) : remove.push(key));
  for (const { hash, entry } of entries) apply(ENTRY + hash, entry);
  for (const { site, window } of probes) apply(PROBES + site, window);
  if (totals) set[TOTALS] = totals;
  if (settings) set[SETTINGS] = settings;
  if (manualHashes) set[MANUAL_HASHES] = manualHashes;
  await Promise.all([
    Object.keys(set).length && chrome.storage.local.set(set),
    remove.length && chrome.storage.local.remove(remove),
  ]);
}
