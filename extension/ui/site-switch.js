// The popup's per-site switch: turns the API off (or on again) for the
// active tab's whole site. The worker keeps its content scripts out of a
// site that is off, so the site's pages, from their next load, have no
// navigator.crossOriginStorage at all.
import { admin } from './admin.js';
import { showError } from './view.js';

const $ = (id) => document.getElementById(id);

/**
 * Shows the switch for the tab's site, as the engine's summary for its
 * origin describes it (`site.disabled`: null, 'user' or 'policy').
 * @param {{site: {site: string, disabled: string | null}}} summary
 * @param {string} host the site's host, as the popup names it
 */
export function renderSiteSwitch(summary, host) {
  const by = summary.site.disabled;
  const toggle = /** @type {HTMLButtonElement} */ ($('switch-toggle'));
  const section = $('site-switch');
  section.hidden = false;
  section.dataset.state = by ? 'off' : 'on';
  section.dataset.site = summary.site.site;
  $('switch-state').textContent = {
    on: `On for ${host}: its pages can use cross-origin storage.`,
    user: `Off for ${host}: its pages have no navigator.crossOriginStorage, from their next load.`,
    policy: `Off for ${host}, by your administrator's policy.`,
  }[by ?? 'on'];
  toggle.textContent = by ? 'Turn on for this site' : 'Turn off for this site';
  toggle.hidden = by === 'policy';
}

/**
 * Wires the button: `origin` is the tab's; `changed` runs once the worker
 * has changed the switch (and its content scripts).
 * @param {string} origin
 * @param {() => Promise<unknown>} changed
 */
export function onSiteSwitch(origin, changed) {
  $('switch-toggle').addEventListener('click', async () => {
    const { state, site } = $('site-switch').dataset;
    showError(null);
    try {
      // The engine finds the site of the origin; turning it on names the site.
      await admin(state === 'off' ? { op: 'enable-site', site } : { op: 'disable-site', origin });
    } catch (e) {
      showError(`The switch did not change: ${e.message}`);
    }
    await changed();
  });
}
