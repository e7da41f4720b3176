// Where the engine's index lives. One record per entry, so a change costs
// one small write and the worker can be stopped between any two requests;
// store-wide counters, settings, the user's Public Hash List entries and
// each site's probe window have a record each.
//
// Two places, one layout:
// - a regular profile keeps the records in chrome.storage.local, which
//   content scripts cannot read or write (see `lockDown`);
// - an incognito profile (the extension runs "split") keeps them in its own
//   origin-private file system, which lives in memory and goes with the
//   incognito session. chrome.storage is shared by the two instances, so
//   an incognito session must not write a byte there.

/** @typedef {import('../pkg/cos_wasm.js').Changes} Changes */
/** @typedef {import('../pkg/cos_wasm.js').Persisted} Persisted */
/** @typedef {{set: Record<string, unknown>, remove: string[]}} Writes */
/** @typedef {{all(): Promise<Record<string, unknown>>, apply(writes: Writes): Promise<void>}} Records */

const ENTRY = 'entry:';
const TOTALS = 'totals';
const SETTINGS = 'settings';
/** A site's probe window (the probe budget). */
const PROBES = 'probes:';
/** The user's own Public Hash List entries. */
const MANUAL_HASHES = 'manual-hashes';
/** The user's sites where the API is off (the per-site switch). */
const DISABLED_SITES = 'disabled-sites';

/** The records of this profile: chrome.storage.local, or in-memory OPFS when incognito. */
export function profileRecords() {
  return chrome.extension.inIncognitoContext ? opfsRecords() : chromeStorageRecords();
}

/**
 * chrome.storage.local is open to content scripts by default: a compromised
 * renderer of any site could read every site's history from the index and
 * forge disclosure. Only the extension's own contexts may use it.
 */
export async function lockDown() {
  if (!chrome.extension.inIncognitoContext) {
    await chrome.storage.local.setAccessLevel({ accessLevel: 'TRUSTED_CONTEXTS' });
  }
}

/**
 * Every persisted record, as stored: the engine checks each one.
 * @param {Records} records
 * @returns {Promise<Persisted>}
 */
export async function loadPersisted(records) {
  const all = await records.all();
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
    disabledSites: await userDisabledSites(all),
  };
}

/**
 * The user's sites where the API is off. A setting, not history: an
 * incognito instance uses the regular profile's list, read once at its start
 * (it writes nothing to chrome.storage, and turns no site off or on itself).
 * @param {Record<string, unknown>} all this profile's records
 */
async function userDisabledSites(all) {
  if (!chrome.extension.inIncognitoContext) return all[DISABLED_SITES] ?? null;
  return (await chrome.storage.local.get(DISABLED_SITES))[DISABLED_SITES] ?? null;
}

/**
 * The record writes that make `changes` durable.
 * @param {Changes} changes
 * @returns {Writes}
 */
export function writesOf({ entries, totals, settings, probes, manualHashes, disabledSites }) {
  /** @type {Writes} */
  const writes = { set: {}, remove: [] };
  const apply = (/** @type {string} */ key, /** @type {unknown} */ value) =>
    value ? (writes.set[key] = value) : writes.remove.push(key);
  for (const { hash, entry } of entries) apply(ENTRY + hash, entry);
  for (const { site, window } of probes) apply(PROBES + site, window);
  if (totals) writes.set[TOTALS] = totals;
  if (settings) writes.set[SETTINGS] = settings;
  if (manualHashes) writes.set[MANUAL_HASHES] = manualHashes;
  if (disabledSites) writes.set[DISABLED_SITES] = disabledSites;
  return writes;
}

/** @returns {Records} */
function chromeStorageRecords() {
  return {
    all: () => chrome.storage.local.get(null),
    async apply({ set, remove }) {
      await Promise.all([
        Object.keys(set).length && chrome.storage.local.set(set),
        remove.length && chrome.storage.local.remove(remove),
      ]);
    },
  };
}

/**
 * One file per record in index/ of the origin-private file system; keys are
 * URI-encoded into file names (a site's key holds "://").
 * @returns {Records}
 */
function opfsRecords() {
  const dir = async () => (await navigator.storage.getDirectory()).getDirectoryHandle('index', { create: true });
  return {
    async all() {
      /** @type {Record<string, unknown>} */
      const all = {};
      for await (const [name, handle] of (await dir()).entries()) {
        if (handle.kind !== 'file') continue;
        const text = await (await /** @type {FileSystemFileHandle} */ (handle).getFile()).text();
        // A record that does not parse is left for the engine to refuse, like a bad one in chrome.storage.
        try {
          all[decodeURIComponent(name)] = JSON.parse(text);
        } catch {
          all[decodeURIComponent(name)] = text;
        }
      }
      return all;
    },
    async apply({ set, remove }) {
      const index = await dir();
      await Promise.all([
        ...Object.entries(set).map(async ([key, value]) => {
          const writable = await (await index.getFileHandle(encodeURIComponent(key), { create: true })).createWritable();
          await writable.write(JSON.stringify(value));
          await writable.close();
        }),
        ...remove.map((key) =>
          index.removeEntry(encodeURIComponent(key)).catch((e) => {
            if (e.name !== 'NotFoundError') throw e;
          }),
        ),
      ]);
    },
  };
}
