// The index lives in chrome.storage.local, one key per entry, so a change
// costs one small write and the worker can be stopped between any two requests.

const PREFIX = 'entry:';

export async function loadEntries() {
  const all = await chrome.storage.local.get(null);
  return Object.entries(all)
    .filter(([key]) => key.startsWith(PREFIX))
    .map(([, value]) => value);
}

/** Applies the engine's drained changes: `[{hash, entry|null}]`. */
export async function saveChanges(changesJson) {
  const changes = JSON.parse(changesJson);
  if (changes.length === 0) return;
  const set = {};
  const remove = [];
  for (const { hash, entry } of changes) {
    if (entry) set[PREFIX + hash] = entry;
    else remove.push(PREFIX + hash);
  }
  await Promise.all([
    Object.keys(set).length && chrome.storage.local.set(set),
    remove.length && chrome.storage.local.remove(remove),
  ]);
}
