// The settings page: storage budget, the sites where the API is off, the
// Public Hash List (the list in use, where it is refreshed from) and the
// user's own public files. Every change
// is sent at once; the worker applies it to the next request and persists
// it, so nothing needs a reload.
import { admin, onStoreChange, publicList } from './admin.js';
import { renderDisabledSites, wireDisabledSites } from './disabled-sites.js';
import { sha256Hex } from './hash-file.js';
import { el, formatBytes, noun, showError } from './view.js';

const $ = (id) => document.getElementById(id);
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;
/** File names of the user's public files, by hash: for this page only (the engine keeps hashes). */
const MANUAL_NAMES = 'manual-hash-names';

let summary = null;
let list = null;

/** @returns {Promise<Record<string, string>>} */
const manualNames = async () => /** @type {Record<string, string>} */ ((await chrome.storage.local.get(MANUAL_NAMES))[MANUAL_NAMES] ?? {});
/** @param {Record<string, string>} names */
const saveManualNames = (names) => chrome.storage.local.set({ [MANUAL_NAMES]: names });

function renderBudget() {
  const { storedBytes, budgetBytes, defaultBudgetBytes, settings } = summary;
  $('usage').textContent = formatBytes(storedBytes);
  $('budget-current').textContent = formatBytes(budgetBytes);
  $('budget-kind').textContent = settings.budgetBytes === null ? 'the default' : 'your';
  $('budget-default').textContent = formatBytes(defaultBudgetBytes);
  $('probe-limit').textContent = String(summary.probeLimit);
  /** @type {HTMLButtonElement} */ ($('budget-reset')).disabled = settings.budgetBytes === null;
  // Leave the field alone while the user is typing in it.
  if (document.activeElement !== $('budget-value')) {
    const unit = budgetBytes >= GIB ? GIB : MIB;
    /** @type {HTMLSelectElement} */ ($('budget-unit')).value = String(unit);
    /** @type {HTMLInputElement} */ ($('budget-value')).value = String(+(budgetBytes / unit).toFixed(2));
  }
}

/** Section names as the list's markers spell them, as people read them. */
const SECTION_NAMES = { 'SHA-256': 'core', 'SHA-256 HUGGING-FACE': 'Hugging Face', 'SHA-256 MANUAL': 'manual' };
const when = (ms) => (ms ? new Date(ms).toLocaleString() : 'never');

function renderList() {
  const { inUse, loadError, configured, userUrl, policyUrl, lastRefresh, lastError, refreshing } = list;
  const source = {
    bundled: () => 'the list bundled with the extension',
    url: () => `refreshed from ${inUse.url}`,
    policy: () => `refreshed from ${inUse.url} (set by policy)`,
    none: () => `none: no valid list was loaded${loadError ? ` (${loadError})` : ''}, so no file is shared across sites through the Public Hash List`,
  }[inUse.source]();
  $('phl-source').replaceChildren(el('span', { 'data-source': inUse.source }, source));
  $('phl-version').textContent = inUse.version ?? '(none)';
  const sections = Object.entries(inUse.sections).map(([name, n]) => `${SECTION_NAMES[name] ?? name} ${n}`);
  $('phl-count').replaceChildren(
    el('data', { value: inUse.count }, `${inUse.count} ${noun(inUse.count, 'hash', 'hashes')}`),
    sections.length ? ` (${sections.join(', ')})` : '',
  );
  $('phl-last-refresh').textContent = refreshing ? 'refreshing…' : when(lastRefresh);
  $('phl-last-error').textContent = lastError ?? 'none';
  $('phl-last-error').classList.toggle('problem', Boolean(lastError));

  const url = /** @type {HTMLInputElement} */ ($('phl-url'));
  if (document.activeElement !== url) url.value = policyUrl ?? userUrl ?? '';
  url.disabled = Boolean(policyUrl);
  /** @type {HTMLButtonElement} */ ($('phl-save')).disabled = Boolean(policyUrl);
  /** @type {HTMLButtonElement} */ ($('phl-refresh')).disabled = !configured || refreshing;
  $('phl-policy').hidden = !policyUrl;
  $('phl-policy-url').textContent = policyUrl ?? '';
}

async function renderManual() {
  const names = await manualNames();
  const hashes = summary.manualHashes;
  $('manual-empty').hidden = hashes.length > 0;
  $('manual-list').replaceChildren(
    ...hashes.map((hash) =>
      el(
        'li',
        { 'data-hash': hash },
        el('span', { class: 'name' }, names[hash] ?? 'added by hash'),
        el('code', { class: 'hash', title: hash }, `${hash.slice(0, 16)}…`),
        el('button', { type: 'button', class: 'danger', 'data-action': 'remove' }, 'Remove'),
      ),
    ),
  );
}

async function refresh() {
  try {
    [summary, list] = await Promise.all([admin({ op: 'summary' }), publicList({ op: 'status' })]);
    renderBudget();
    renderDisabledSites(summary);
    renderList();
    await renderManual();
  } catch (e) {
    showError(`Could not read the settings: ${e.message}`);
  }
}

/**
 * Runs a change; `done` describes it once it worked. The message follows the
 * page's refresh, so that what it says is already what the page shows.
 */
async function change(run, done) {
  showError(null);
  let saved = null;
  try {
    await run();
    saved = `${done()} Saved at ${new Date().toLocaleTimeString()}.`;
  } catch (e) {
    showError(`Not saved: ${e.message}`);
  }
  await refresh();
  if (saved) $('status').textContent = saved;
}

/** Replaces the settings with `update` applied. */
const saveSettings = (update, done) => change(() => admin({ op: 'settings', settings: { ...summary.settings, ...update } }), () => done);

$('budget-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = /** @type {HTMLInputElement} */ ($('budget-value')).value;
  const unit = /** @type {HTMLSelectElement} */ ($('budget-unit')).value;
  const bytes = Math.round(Number(value) * Number(unit));
  $('budget-value').blur();
  saveSettings({ budgetBytes: bytes }, `Budget set to ${formatBytes(bytes)}.`);
});
$('budget-reset').addEventListener('click', () => saveSettings({ budgetBytes: null }, 'Budget reset to the default.'));

wireDisabledSites(change);

/** A list request; then what the list in use is now. A refresh that failed rejects. */
async function listChange(request) {
  $('phl-last-refresh').textContent = 'refreshing…';
  list = await publicList(request);
  const { inUse } = list;
  return `Public Hash List: ${inUse.source === 'bundled' ? 'the bundled list' : inUse.url}, ${inUse.count} ${noun(inUse.count, 'hash', 'hashes')}.`;
}

$('phl-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const url = /** @type {HTMLInputElement} */ ($('phl-url'));
  url.blur();
  let text = '';
  change(async () => (text = await listChange({ op: 'set-url', url: url.value })), () => text);
});
$('phl-refresh').addEventListener('click', () => {
  let text = '';
  change(async () => (text = await listChange({ op: 'refresh' })), () => text);
});

$('manual-files').addEventListener('change', async (event) => {
  const input = /** @type {HTMLInputElement} */ (event.target);
  const files = [...input.files];
  input.value = '';
  if (!files.length) return;
  const progress = $('manual-progress');
  await change(async () => {
    /** @type {Record<string, string>} */
    const named = {};
    for (const [i, file] of files.entries()) {
      const label = `Hashing ${file.name} (${i + 1} of ${files.length})`;
      named[await sha256Hex(file, (n) => (progress.textContent = `${label}: ${file.size ? Math.floor((100 * n) / file.size) : 100} %`))] = file.name;
    }
    progress.textContent = '';
    await admin({ op: 'add-public-hashes', hashes: Object.keys(named) });
    await saveManualNames({ ...(await manualNames()), ...named });
  }, () => `Added ${files.length} ${noun(files.length, 'file')} to your public files.`).finally(() => (progress.textContent = ''));
});

$('manual-list').addEventListener('click', (event) => {
  const button = /** @type {Element} */ (event.target).closest('button[data-action="remove"]');
  if (!button) return;
  const { hash } = /** @type {HTMLElement} */ (button.closest('li')).dataset;
  change(async () => {
    await admin({ op: 'remove-public-hashes', hashes: [hash] });
    const names = await manualNames();
    delete names[hash];
    await saveManualNames(names);
  }, () => `Removed ${hash.slice(0, 16)}… from your public files.`);
});

async function showBundledList() {
  const response = await fetch(chrome.runtime.getURL('extension/pkg/public_hash_list.txt'));
  $('phl-text').textContent = await response.text();
}

refresh();
onStoreChange(refresh);
showBundledList().catch((e) => showError(`Could not read the bundled Public Hash List: ${e.message}`));
