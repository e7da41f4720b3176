// Enterprise policy: chrome.storage.managed, as described by
// extension/managed-schema.json (Debian's Chromium reads it from
// /etc/chromium/policies/managed/*.json, under 3rdparty.extensions.<id>).
//
// The browser answers chrome.storage.managed only once it has loaded its
// policies, about 3 s after it starts. A decision that must hold from the
// worker's first answer (the sites turned off, the probe budget) can neither
// wait for that (pages would be answered without it) nor go without the
// policy: so such a value is remembered from the last time it was read and
// applied at once at the next start, and the fresh read follows.

/** An incognito instance (the extension runs "split") writes nothing to chrome.storage (persist.js). */
const INCOGNITO = chrome.extension.inIncognitoContext;

/** Where the value last read is remembered, in chrome.storage.local (closed to content scripts, see persist.js). */
const rememberedKey = (/** @type {string} */ name) => `policy-${name}`;

/**
 * The policy `name` as the browser has it now (undefined when unset, or when
 * the browser has no managed storage); remembered for the next start.
 * @param {string} name
 * @returns {Promise<unknown>}
 */
export async function readPolicy(name) {
  const value = (await chrome.storage.managed.get(name).catch(() => ({})))[name];
  if (!INCOGNITO) await chrome.storage.local.set({ [rememberedKey(name)]: value ?? null });
  return value ?? undefined;
}

/**
 * The policy `name` as last read (undefined before the first read).
 * @param {string} name
 * @returns {Promise<unknown>}
 */
export async function rememberedPolicy(name) {
  return (await chrome.storage.local.get(rememberedKey(name)))[rememberedKey(name)] ?? undefined;
}

/**
 * Calls `changed` with the new value whenever the policy `name` changes.
 * @param {string} name
 * @param {(value: unknown) => void} changed
 */
export function onPolicyChange(name, changed) {
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'managed' && name in changes) readPolicy(name).then(changed);
  });
}
