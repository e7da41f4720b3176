// The per-site switch, browser side. The engine keeps the list of sites the
// API is off for (the user's, persisted with the index, and the enterprise
// policy's, read here from chrome.storage.managed `disabledSites`, see
// extension/managed-schema.json) and refuses their frames' requests; this
// module keeps the content scripts out of those sites (content-scripts.js)
// whenever the list changes. A page sees the change at its next load: a
// frame's scripts, once injected, stay until it navigates.
//
// The browser answers chrome.storage.managed only once it has loaded its
// policies, about 3 s after it starts. The content scripts must not wait for
// that (pages would load without the API), nor be registered without the
// policy's sites: so the policy's list is remembered from the last time it
// was read, and applied at once at the next start; the fresh read follows.

import { registerContentScripts } from './content-scripts.js';

/** @typedef {import('../pkg/cos_wasm.js').Store} Store */

/**
 * An incognito instance (the extension runs "split") shares the content
 * script registrations with the regular one, which alone keeps them: its
 * list is the one that persists.
 */
const INCOGNITO = chrome.extension.inIncognitoContext;

/** The policy's name in the managed schema. */
const POLICY_SITES = 'disabledSites';
/** The policy's list as last read, in chrome.storage.local (closed to content scripts, see persist.js). */
const REMEMBERED = 'policy-disabled-sites';

/**
 * A policy entry as a canonical origin for the engine (which reduces it to
 * its site): a URL or origin as the URL parser reads it; a bare host name
 * means https. Anything else is passed on as it is, for the engine to refuse.
 * @param {unknown} entry
 */
function policyOrigin(entry) {
  const text = String(entry).trim();
  const url = URL.parse(text) ?? URL.parse(`https://${text}`);
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url.origin : text;
}

/** The policy's entries (none when unset, or without managed storage), remembered for the next start. */
async function policySites() {
  const managed = await chrome.storage.managed.get(POLICY_SITES).catch(() => ({}));
  const value = managed[POLICY_SITES];
  const sites = Array.isArray(value) ? value.map(policyOrigin) : [];
  // An incognito instance writes nothing to chrome.storage (persist.js).
  if (!INCOGNITO) await chrome.storage.local.set({ [REMEMBERED]: sites });
  return sites;
}

/** The policy's entries as last read (none before the first read). */
async function rememberedPolicySites() {
  const value = (await chrome.storage.local.get(REMEMBERED))[REMEMBERED];
  return Array.isArray(value) ? value.map(String) : [];
}

export function createSiteSwitch() {
  /** The started store; until then there is nothing to register for. */
  let store = /** @type {Store | null} */ (null);
  /** The sites the registrations exclude now (null: not registered by this worker yet). */
  let registeredFor = /** @type {string | null} */ (null);
  /** Registrations run one at a time, each with the list as it is then. */
  let queue = Promise.resolve();

  /** Registers the content scripts for the engine's list, unless they are for it already. */
  function sync() {
    queue = queue.then(async () => {
      const sites = /** @type {Store} */ (store).disabledSites();
      if (INCOGNITO || registeredFor === sites.join(' ')) return;
      await registerContentScripts(sites);
      registeredFor = sites.join(' ');
    });
    // A failed registration is retried by the next sync (the next worker start at the latest).
    return (queue = queue.catch((e) => console.error('cross-origin storage: the content scripts could not be registered', e)));
  }

  /**
   * Hands a policy list to the engine; then the content scripts follow.
   * @param {string[]} sites
   */
  function applyPolicy(sites) {
    if (!store) return Promise.resolve();
    const ignored = store.setPolicyDisabledSites(sites);
    for (const problem of ignored) console.warn(`cross-origin storage: policy ${POLICY_SITES}: ${problem}`);
    return sync();
  }

  // Before the store starts, its start-up reads the policy anyway.
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'managed' && POLICY_SITES in changes) policySites().then(applyPolicy);
  });

  return {
    /**
     * At every worker start, once the store restored the user's list: the
     * registrations (idempotent) with the policy's list as last read.
     * Resolves then; the policy as it is now follows when the browser has it.
     * @param {Store} started
     */
    async startUp(started) {
      store = started;
      await applyPolicy(await rememberedPolicySites());
      policySites().then(applyPolicy);
    },
    /** After anything that may have changed the user's list (an admin request). */
    sync: () => (store ? sync() : Promise.resolve()),
    /**
     * The answer to an admin request this instance must not carry out, or
     * null: an incognito window saves nothing, so sites are turned off and
     * on from a regular window.
     * @param {any} request
     */
    refusal(request) {
      if (!INCOGNITO || (request?.op !== 'disable-site' && request?.op !== 'enable-site')) return null;
      const message = 'sites are turned off and on from a regular window (an incognito window saves no settings)';
      return { ok: false, error: { name: 'NotAllowedError', code: 'incognito', message } };
    },
  };
}
