// The settings page: storage budget, strict privacy, the Public Hash List.
// Every change is sent at once; the engine applies it to the next request
// and persists it, so nothing needs a reload.
import { admin, onStoreChange } from './admin.js';
import { formatBytes, noun, showError } from './view.js';

const $ = (id) => document.getElementById(id);
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

let summary = null;

function render() {
  const { storedBytes, budgetBytes, defaultBudgetBytes, settings, publicHashCount } = summary;
  $('usage').textContent = formatBytes(storedBytes);
  $('budget-current').textContent = formatBytes(budgetBytes);
  $('budget-kind').textContent = settings.budgetBytes === null ? 'the default' : 'your';
  $('budget-default').textContent = formatBytes(defaultBudgetBytes);
  /** @type {HTMLButtonElement} */ ($('budget-reset')).disabled = settings.budgetBytes === null;
  /** @type {HTMLInputElement} */ ($('strict')).checked = settings.strictGlobal;
  $('phl-count').textContent = `${publicHashCount} ${noun(publicHashCount, 'hash', 'hashes')}`;
  // Leave the field alone while the user is typing in it.
  if (document.activeElement !== $('budget-value')) {
    const unit = budgetBytes >= GIB ? GIB : MIB;
    /** @type {HTMLSelectElement} */ ($('budget-unit')).value = String(unit);
    /** @type {HTMLInputElement} */ ($('budget-value')).value = String(+(budgetBytes / unit).toFixed(2));
  }
}

async function refresh() {
  try {
    summary = await admin({ op: 'summary' });
    render();
  } catch (e) {
    showError(`Could not read the settings: ${e.message}`);
  }
}

/** Replaces the settings with `change` applied; the reply is the new summary. */
async function save(change, done) {
  showError(null);
  try {
    summary = await admin({ op: 'settings', settings: { ...summary.settings, ...change } });
    render();
    $('status').textContent = `${done} Saved at ${new Date().toLocaleTimeString()}.`;
  } catch (e) {
    showError(`Not saved: ${e.message}`);
    await refresh();
  }
}

$('budget-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = /** @type {HTMLInputElement} */ ($('budget-value')).value;
  const unit = /** @type {HTMLSelectElement} */ ($('budget-unit')).value;
  const bytes = Math.round(Number(value) * Number(unit));
  $('budget-value').blur();
  save({ budgetBytes: bytes }, `Budget set to ${formatBytes(bytes)}.`);
});
$('budget-reset').addEventListener('click', () => save({ budgetBytes: null }, 'Budget reset to the default.'));
$('strict').addEventListener('change', (event) => {
  const on = /** @type {HTMLInputElement} */ (event.target).checked;
  save({ strictGlobal: on }, `Stricter privacy ${on ? 'on' : 'off'}.`);
});

async function showPublicHashList() {
  const response = await fetch(chrome.runtime.getURL('extension/pkg/public_hash_list.txt'));
  $('phl-text').textContent = await response.text();
}

refresh();
onStoreChange(refresh);
showPublicHashList().catch((e) => showError(`Could not read the Public Hash List: ${e.message}`));
