// The content scripts that give pages navigator.crossOriginStorage,
// registered by the worker (chrome.scripting) rather than declared in the
// manifest, so that the sites where the user turned the API off can be left
// out: their frames then run none of our code, exactly as without the
// extension. Registrations persist across browser restarts (the browser
// injects them before the worker even starts); the worker registers again on
// every start anyway (install, update, a lost registration), idempotently.
//
// Plain data and functions that touch `chrome` only when called: the build's
// manifest check and the packager import CONTENT_SCRIPTS for the files.

/**
 * The isolated-world relay (and the frame's container reporter) first, then
 * the MAIN-world API, in every frame of every http(s) page, at document_start.
 * @type {chrome.scripting.RegisteredContentScript[]}
 */
export const CONTENT_SCRIPTS = [
  {
    id: 'relay',
    js: ['extension/content/bridge.js', 'extension/content/container.js'],
    matches: ['http://*/*', 'https://*/*'],
    runAt: 'document_start',
    allFrames: true,
    world: 'ISOLATED',
    persistAcrossSessions: true,
  },
  {
    id: 'api',
    // The API's parts in dependency order (each registers itself for api.js), api.js last.
    js: [
      'extension/content/api/core.js',
      'extension/content/api/transfer.js',
      'extension/content/api/fetch.js',
      'extension/content/api/channels.js',
      'extension/content/api/worker-scope.js',
      'extension/content/api/workers.js',
      'extension/content/api/declarative.js',
      'extension/content/api.js',
    ],
    matches: ['http://*/*', 'https://*/*'],
    runAt: 'document_start',
    allFrames: true,
    world: 'MAIN',
    persistAcrossSessions: true,
  },
];

/**
 * Match patterns covering `site` (`scheme://host`, as the engine names it):
 * the host and its subdomains, on any port (match patterns ignore ports).
 * An IP address has no subdomains, and `*.` before one is refused.
 * @param {string} site
 */
export function sitePatterns(site) {
  const { protocol, hostname } = new URL(site);
  const ip = hostname.startsWith('[') || /^[\d.]+$/.test(hostname);
  return [`${protocol}//${ip ? '' : '*.'}${hostname}/*`];
}

/** What a registration is, for comparing the one wanted with the one the browser has. */
const shape = (/** @type {chrome.scripting.RegisteredContentScript} */ s) =>
  JSON.stringify([s.id, s.js, s.matches, [...(s.excludeMatches ?? [])].sort(), s.runAt, s.allFrames, s.world]);

/**
 * Makes the browser's registrations exactly CONTENT_SCRIPTS with `sites`
 * excluded: updates ours in place (no moment without them), registers any
 * missing, removes any other (an older version's). Does nothing when they
 * are already so.
 * @param {string[]} sites
 */
export async function registerContentScripts(sites) {
  const excludeMatches = sites.flatMap(sitePatterns);
  const wanted = CONTENT_SCRIPTS.map((script) => ({ ...script, excludeMatches }));
  const registered = await chrome.scripting.getRegisteredContentScripts();
  const ids = new Set(registered.map((s) => s.id));
  const stale = registered.filter((s) => !wanted.some((w) => w.id === s.id)).map((s) => s.id);
  if (stale.length) await chrome.scripting.unregisterContentScripts({ ids: stale });
  const changed = wanted.filter((w) => ids.has(w.id) && !registered.some((s) => shape(s) === shape(w)));
  if (changed.length) await chrome.scripting.updateContentScripts(changed);
  const missing = wanted.filter((w) => !ids.has(w.id));
  if (missing.length) await chrome.scripting.registerContentScripts(missing);
}
