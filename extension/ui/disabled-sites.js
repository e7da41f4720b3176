// The settings page's list of sites where the API is off (the per-site
// switch): the user's, which they can turn on again or add to, and the
// administrator's (enterprise policy), shown as such and not removable here.
import { admin } from './admin.js';
import { el } from './view.js';

const $ = (id) => document.getElementById(id);

/** @param {{disabledSites: {user: string[], policy: string[]}}} summary */
export function renderDisabledSites({ disabledSites: { user, policy } }) {
  const item = (/** @type {string} */ site, /** @type {boolean} */ byPolicy) =>
    el(
      'li',
      { 'data-site': site, 'data-by': byPolicy ? 'policy' : 'user' },
      el('code', {}, site),
      byPolicy
        ? el('span', { class: 'muted' }, "set by your administrator's policy")
        : el('button', { type: 'button', 'data-action': 'enable' }, 'Turn on'),
    );
  // A site both lists name stays off while the policy does.
  const own = user.filter((site) => !policy.includes(site));
  $('sites-empty').hidden = own.length + policy.length > 0;
  $('sites-list').replaceChildren(...policy.map((site) => item(site, true)), ...own.map((site) => item(site, false)));
}

/**
 * What the user typed as an origin: a URL or origin as the URL parser reads
 * it, a bare host name as https (the engine turns off its whole site).
 * @param {string} text
 */
function typedOrigin(text) {
  const url = URL.parse(text.trim()) ?? URL.parse(`https://${text.trim()}`);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new Error(`not a web site: ${JSON.stringify(text)}`);
  return url.origin;
}

/**
 * Wires the list's buttons and the add form; `change(run, done)` is the
 * page's way to make a change and report it.
 * @param {(run: () => Promise<unknown>, done: () => string) => Promise<void>} change
 */
export function wireDisabledSites(change) {
  $('sites-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLInputElement} */ ($('sites-add'));
    let text = '';
    change(async () => {
      const origin = typedOrigin(input.value);
      await admin({ op: 'disable-site', origin });
      text = `Turned off for the site of ${origin}.`;
      input.value = '';
    }, () => text);
  });
  $('sites-list').addEventListener('click', (event) => {
    const button = /** @type {Element} */ (event.target).closest('button[data-action="enable"]');
    if (!button) return;
    const { site } = /** @type {HTMLElement} */ (button.closest('li')).dataset;
    change(() => admin({ op: 'enable-site', site }), () => `Turned on for ${site}.`);
  });
}
