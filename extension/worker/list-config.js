// Where Public Hash List refreshes come from: enterprise policy
// (chrome.storage.managed, `publicHashListUrl`, see extension/managed-schema.json)
// wins over the URL the user set on the settings page. Neither set: no
// refresh, the bundled list is used.

import { onPolicyChange, readPolicy } from './policy.js';

/** The user's refresh URL, in chrome.storage.local (closed to content scripts, see persist.js). */
const USER_URL = 'public-list-url';
/** The policy's name in the managed schema. */
const POLICY_URL = 'publicHashListUrl';

/**
 * @typedef {{source: 'policy' | 'url', url: string}} Configured
 * @typedef {{configured: Configured | null, userUrl: string | null, policyUrl: string | null}} ListConfig
 */

/** Loopback hosts: served by this machine, so plain http cannot be tampered with on the way. */
const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * `text` as a refresh URL, or an Error saying why it is not one. Only https
 * (or http to this machine): the sidecar comes from the same server, so it
 * proves the download is whole, not that nobody on the way replaced both.
 * @param {string} text
 * @returns {string | Error}
 */
export function refreshUrl(text) {
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    return new Error(`not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname))) return url.href;
  return new Error(`${url.href}: the list must come over https (plain http only from this machine)`);
}

/** The policy's URL, or null when unset (or the browser has no managed storage). */
async function policyUrl() {
  const value = await readPolicy(POLICY_URL);
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/** @returns {Promise<ListConfig>} */
export async function readConfig() {
  const [policy, stored] = await Promise.all([policyUrl(), chrome.storage.local.get(USER_URL)]);
  const userUrl = typeof stored[USER_URL] === 'string' ? stored[USER_URL] : null;
  /** @type {Configured | null} */
  const configured = policy ? { source: 'policy', url: policy } : userUrl ? { source: 'url', url: userUrl } : null;
  return { configured, userUrl, policyUrl: policy };
}

/**
 * Saves the user's URL (empty: none). Throws if it is not a refresh URL.
 * @param {string} text
 */
export async function setUserUrl(text) {
  if (!text.trim()) return chrome.storage.local.remove(USER_URL);
  const url = refreshUrl(text);
  if (url instanceof Error) throw url;
  await chrome.storage.local.set({ [USER_URL]: url });
}

/**
 * Calls `changed` when the policy changes (the user's URL changes only
 * through `setUserUrl`, whose caller knows).
 * @param {() => void} changed
 */
export function onUrlPolicyChange(changed) {
  onPolicyChange(POLICY_URL, changed);
}
