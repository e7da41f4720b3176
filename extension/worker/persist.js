// The index lives in chrome.storage.local, one key per entry, so a change
// costs one small write and the worker can be stopped between any two
// requests. Store-wide counters and the user's settings have a key each.

const ENTRY = 'entry:';
const TOTALS = 'totals';
const SETTINGS = 'settings';

/** Everything the engine restores from: `{entries, totals, settings}`. */
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

/** Applies the engine's drained changes: `{entries: [{hash, entry|null}], totals, settings}`. */
export async function saveChanges(drainedJson) {
  const { entries, totals, settings } = JSON.parse(drainedJson);
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
