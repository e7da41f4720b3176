// The popup: what the store holds, what it saved, and the user's delete actions.
import { admin, onStoreChange } from './admin.js';
import { drawChart, MAX_ROWS } from './chart.js';
import { onSiteSwitch, renderSiteSwitch } from './site-switch.js';
import { bytesEl, el, formatBytes, noun, showError, timeAgo } from './view.js';

const $ = (id) => document.getElementById(id);

let summary = null;
/** The active tab, for the filter and "delete this site": `{origin, host}` (host of its site), or null. */
let tab = null;

/**
 * Origin of the active tab, if it is a web page. Clicking the toolbar button
 * grants `activeTab`, which exposes that tab's URL without the broad `tabs`
 * permission. `?tab=<origin>` overrides it: opened as a tab (as the tests do),
 * the active tab is this page itself.
 */
async function activeOrigin() {
  const override = new URLSearchParams(location.search).get('tab');
  if (override) return new URL(override).origin;
  const [active] = await chrome.tabs.query({ active: true, currentWindow: true });
  const url = active?.url ? new URL(active.url) : null;
  return url && (url.protocol === 'https:' || url.protocol === 'http:') ? url.origin : null;
}

// Which files touch the tab's site, and which `delete-site` would delete: the engine says.
const touchesSite = (e) => summary.site.touching.includes(e.hash);
const onlyThisSite = (e) => summary.site.only.includes(e.hash);

const sum = (entries) => entries.reduce((n, e) => n + e.size, 0);
const files = (n) => `${n} ${noun(n, 'file')}`;

/** The file's grants, as its storers asked for them. */
function visibility(e) {
  if (e.global) return 'every site (global)';
  const sameSite = 'sites of the storing origins';
  return e.listed.length ? `${e.listed.join(', ')} and ${sameSite}` : `${sameSite} only`;
}

/** Whether the Public Hash List lets the global grant reach other sites (the engine says which files are on it). */
function publicHashList(e) {
  const listed = summary.publicEntries.includes(e.hash);
  if (!e.global) return listed ? 'on the list (not shared with every site)' : 'not on the list';
  return listed ? 'on the list: every site can read it' : 'not on the list: no other site can read it through the global grant';
}

/** For a file other sites cannot read: a link to why (the explanations the DevTools panel also uses). */
function whyNotShared(e) {
  const cause = !e.global ? 'out-of-scope' : summary.publicEntries.includes(e.hash) ? null : 'not-on-public-list';
  if (!cause) return null;
  return el('dd', { class: 'why' }, el('a', { href: `explanations.html#${cause}`, target: '_blank' }, 'why other sites cannot read it'));
}

function fileItem(e) {
  const users = Object.entries(e.users).sort(([, a], [, b]) => b - a);
  const usedBy = users.length ? users.map(([o, t]) => `${o} (${timeAgo(t)})`).join(', ') : 'no reads yet';
  return el(
    'li',
    { 'data-hash': e.hash },
    el(
      'div',
      { class: 'head' },
      el('code', { class: 'hash', title: e.hash }, `${e.hash.slice(0, 12)}…`),
      el('button', { type: 'button', class: 'copy', 'data-action': 'copy', title: 'Copy the full SHA-256 hash' }, 'copy'),
      el('span', { class: 'size' }, bytesEl(e.size)),
      el('span', { class: 'kind' }, e.kind || 'binary'),
      el('button', { type: 'button', class: 'delete danger', 'data-action': 'delete' }, 'Delete'),
    ),
    el(
      'dl',
      {},
      el('dt', {}, 'Visible to'), el('dd', { class: 'visibility' }, visibility(e)),
      el('dt', {}, 'Public Hash List'),
      el('dd', { class: 'phl', 'data-listed': String(summary.publicEntries.includes(e.hash)) }, publicHashList(e)),
      whyNotShared(e),
      el('dt', {}, 'Stored by'), el('dd', { class: 'storers' }, e.storers.join(', ')),
      el('dt', {}, 'Used by'), el('dd', { class: 'users' }, usedBy),
      el('dt', {}, 'Last used'),
      el('dd', {}, timeAgo(e.lastUsedMs), ' · saved ', bytesEl(e.savedBytes), ` in ${e.hits} cross-origin ${noun(e.hits, 'read')}`),
    ),
  );
}

function shownEntries() {
  const byUse = /** @type {HTMLSelectElement} */ ($('sort')).value === 'used';
  const entries = summary.entries.filter((e) => !/** @type {HTMLInputElement} */ ($('this-site')).checked || touchesSite(e));
  return entries.sort((a, b) => (byUse ? b.lastUsedMs - a.lastUsedMs : b.size - a.size) || a.hash.localeCompare(b.hash));
}

function render() {
  const { entries, totals, storedBytes, budgetBytes } = summary;
  $('total-files').textContent = entries.length;
  $('total-stored').replaceChildren(bytesEl(storedBytes));
  $('total-budget').textContent = `of ${formatBytes(budgetBytes)}`;
  $('total-saved').replaceChildren(bytesEl(totals.savedBytes));
  $('total-hits').textContent = totals.hits;
  $('total-misses-line').replaceChildren(el('span', { id: 'total-misses' }, totals.misses), ` ${noun(totals.misses, 'miss', 'misses')}`);
  $('empty').hidden = entries.length > 0;
  $('content').hidden = entries.length === 0;

  const shown = shownEntries();
  drawChart($('chart'), shown);
  $('chart-caption').textContent =
    shown.length > MAX_ROWS ? `The first ${MAX_ROWS} of ${files(shown.length)} below.` : 'Per file, in the order of the list below.';
  $('files').replaceChildren(...shown.map(fileItem));

  if (tab) {
    const only = entries.filter(onlyThisSite);
    $('delete-site').textContent = only.length ? `Delete ${files(only.length)} used only by ${tab.host}` : `No files used only by ${tab.host}`;
    /** @type {HTMLButtonElement} */ ($('delete-site')).disabled = only.length === 0;
  }
}

async function refresh() {
  try {
    summary = await admin({ op: 'summary', origin: tab?.origin });
    // Named by its registrable domain: the filter and the deletion cover the whole site.
    if (tab) tab.host = new URL(summary.site.site).hostname;
    render();
    if (tab) renderSiteSwitch(summary, tab.host);
  } catch (e) {
    showError(`Could not read the store: ${e.message}`);
  }
}

/** Asks with the in-page dialog (window.confirm would block the page and cannot be styled or tested). */
function confirmed(text) {
  const dialog = /** @type {HTMLDialogElement} */ ($('confirm'));
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

async function act(question, request) {
  if (!(await confirmed(question))) return;
  showError(null);
  try {
    await admin(request);
  } catch (e) {
    showError(`Nothing was deleted: ${e.message}`);
  }
  await refresh();
}

$('files').addEventListener('click', async (event) => {
  const target = /** @type {Element} */ (event.target);
  const button = /** @type {HTMLButtonElement | null} */ (target.closest('button[data-action]'));
  if (!button) return;
  const entry = summary.entries.find((e) => e.hash === button.closest('li').dataset.hash);
  if (!entry) return;
  if (button.dataset.action === 'copy') {
    await navigator.clipboard.writeText(entry.hash);
    button.textContent = 'copied';
    setTimeout(() => (button.textContent = 'copy'), 1500);
  } else {
    await act(
      `Delete ${entry.hash.slice(0, 12)}… (${entry.kind})? This frees ${formatBytes(entry.size)}. Sites that use it will download it again.`,
      { op: 'delete', hash: entry.hash },
    );
  }
});

$('delete-site').addEventListener('click', () => {
  const only = summary.entries.filter(onlyThisSite);
  act(`Delete ${files(only.length)} used only by ${tab.host}? This frees ${formatBytes(sum(only))}. Files other sites also use are kept.`, {
    op: 'delete-site',
    origin: tab.origin,
  });
});

$('clear').addEventListener('click', () => {
  const { entries } = summary;
  act(`Delete all ${files(entries.length)}? This frees ${formatBytes(sum(entries))}. Sites will download them again.`, { op: 'clear' });
});

$('sort').addEventListener('change', render);
$('this-site').addEventListener('change', render);
$('open-settings').addEventListener('click', () => chrome.runtime.openOptionsPage());
/** @type {HTMLAnchorElement} */ ($('readme')).href = chrome.runtime.getURL('README.md');

async function start() {
  const origin = await activeOrigin().catch(() => null);
  tab = origin ? { origin } : null;
  await refresh();
  if (tab) {
    $('site-name').textContent = `this site (${tab.host})`;
    $('site-filter').hidden = false;
    $('delete-site').hidden = false;
    onSiteSwitch(tab.origin, refresh);
  }
  onStoreChange(refresh);
}
start();
