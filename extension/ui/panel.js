// The DevTools panel: every call the inspected tab's pages made, live and
// in order, each with why it was answered so (explanations.js). The worker
// keeps the record (worker/call-log.js) and streams it over a port that only
// the extension's own pages may open. devtools.js opens this for the
// inspected tab; standalone, panel.html?tab=<id>[&theme=dark|light] shows a
// tab's record outside DevTools (as the tests do).
import { DEVTOOLS_PORT_NAME } from '../worker/wire.js';
import { explain, notes } from './explanations.js';
import { el, formatBytes, showError } from './view.js';

/**
 * @typedef {import('../pkg/cos_wasm.js').Trace} Trace
 * @typedef {{
 *   instance: string, seq: number, time: number, ms: number, frameId: number, documentId: string,
 *   topDocumentId: string, origin: string, url: string, realm?: {kind: string, url?: string},
 *   reply: {ok: boolean, name?: string, code?: string, message?: string}, trace: Trace,
 * }} Call
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);
const tabId = chrome.devtools ? chrome.devtools.inspectedWindow.tabId : Number(params.get('tab'));
// DevTools' own theme when inside DevTools; otherwise ?theme=, else the system's.
const theme = chrome.devtools ? chrome.devtools.panels.themeName : params.get('theme');
if (theme) document.documentElement.dataset.theme = theme === 'dark' ? 'dark' : 'light';

/** The calls shown, by `instance:seq` (the worker may restart: its numbers start again). */
const calls = new Map();
/** Each call's number in this list (1 for the document's first call). */
const ordinals = new Map();
/** Calls the developer cleared: not brought back when the worker sends what it has. */
const cleared = new Set();
/** The top-level document the calls belong to: a call of another one starts the list afresh. */
let top = /** @type {string | null} */ (null);
const keyOf = (/** @type {Call} */ call) => `${call.instance}:${call.seq}`;

/** @param {Call} call */
function add(call) {
  const key = keyOf(call);
  if (calls.has(key) || cleared.has(key)) return;
  calls.set(key, call);
  ordinals.set(key, ordinals.size + 1);
}

/** @param {string | null} document */
function startAfresh(document) {
  if (document === top) return;
  top = document;
  calls.clear();
  ordinals.clear();
  cleared.clear();
}

/**
 * What the worker says: everything it has for the tab when the port opens
 * (merged: after a restart it has less than this panel showed), a reset when
 * the tab shows a new document (or closed), or one new call.
 * @param {any} message
 */
function receive(message) {
  if (message.call) {
    if (message.call.topDocumentId !== top) {
      startAfresh(message.call.topDocumentId);
      add(message.call);
      return render();
    }
    add(message.call);
    return passes(message.call) && appendCall(message.call);
  }
  if (message.reset) startAfresh(message.top);
  else if (message.top && message.top !== top) startAfresh(message.top);
  for (const call of message.calls ?? []) add(call);
  render();
}

// ---- rendering ----------------------------------------------------------
const time = (/** @type {number} */ ms) => {
  const d = new Date(ms);
  return `${d.toLocaleTimeString('en-GB', { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

/** @param {Trace} trace */
function options(trace) {
  const parts = [];
  if (trace.create) parts.push('create');
  if (trace.origins) parts.push(`origins: ${trace.origins === '*' ? '"*"' : trace.origins.join(', ')}`);
  return parts.join('; ');
}

/** The last path segment of a worker's script URL: enough to tell a page's workers apart. */
const fileName = (/** @type {string} */ url) => {
  try {
    return new URL(url).pathname.split('/').pop() || url;
  } catch {
    return url;
  }
};

/** @param {Call} call */
function passes(call) {
  if (/** @type {HTMLInputElement} */ ($('refusals')).checked && call.reply.ok) return false;
  const frame = /** @type {HTMLSelectElement} */ ($('frame')).value;
  return !frame || call.documentId === frame;
}

/** The rows of one call: what it was, and what happened and why. @param {Call} call */
function callRows(call) {
  const { trace, reply } = call;
  const explanation = explain(call);
  const outcome = reply.ok ? 'ok' : reply.name ?? 'error';
  const frameLabel = call.frameId === 0 ? 'top' : `frame ${call.frameId}`;
  const worker = call.realm && call.realm.kind !== 'window' ? call.realm : null;
  const main = el(
    'tr',
    {},
    el('td', { class: 'num' }, String(ordinals.get(keyOf(call)))),
    el('td', {}, time(call.time - call.ms)),
    el(
      'td',
      { class: 'frame', title: worker ? `${call.url}\n${worker.kind} worker: ${worker.url}` : call.url },
      call.origin,
      ' ',
      el('span', { class: 'id' }, frameLabel),
      worker && el('span', { class: 'worker' }, ` ${worker.kind} worker ${fileName(worker.url ?? '')}`),
    ),
    el('td', { class: 'method' }, trace.method ?? trace.op ?? '?'),
    el('td', { class: 'hash', title: trace.hash ?? '' }, trace.hash ? `${trace.hash.slice(0, 12)}…` : ''),
    el('td', { class: 'options' }, options(trace)),
    el('td', { class: `outcome ${reply.ok ? 'ok' : 'refused'}`, title: reply.message ?? '' }, outcome),
    el('td', { class: 'num' }, `${call.ms} ms`),
    el('td', { class: 'num' }, trace.bytes === undefined ? '' : formatBytes(trace.bytes)),
  );
  const detail = el(
    'td',
    { colspan: 9, class: 'detail' },
    explanation &&
      el(
        'p',
        { class: `why${explanation.refused ? ' refused' : ''}`, 'data-cause': explanation.id },
        el('span', { class: 'title' }, `${explanation.title}. `),
        explanation.why,
        ' ',
        el('a', { href: `explanations.html#${explanation.id}`, target: '_blank' }, 'more'),
      ),
    explanation && el('p', { class: 'fix' }, explanation.fix),
    notes(trace).map((note) => el('p', { class: 'note' }, note)),
    el('details', {}, el('summary', {}, 'trace'), el('pre', {}, JSON.stringify(call, null, 2))),
  );
  return el('tbody', { class: reply.ok ? 'call' : 'call refused', 'data-seq': call.seq }, main, el('tr', {}, detail));
}

/** @param {Call} call */
function appendCall(call) {
  $('calls').append(callRows(call));
  updateFrames();
  updateStatus();
}

function render() {
  const shown = [...calls.values()].sort((a, b) => a.time - b.time || a.seq - b.seq).filter(passes);
  for (const body of $('calls').querySelectorAll('tbody')) body.remove();
  $('calls').append(...shown.map(callRows));
  updateFrames();
  updateStatus();
}

/** The frame filter's choices: every document that made a call. */
function updateFrames() {
  const select = /** @type {HTMLSelectElement} */ ($('frame'));
  const known = new Set([...select.options].map((o) => o.value));
  for (const call of calls.values()) {
    if (known.has(call.documentId)) continue;
    known.add(call.documentId);
    select.append(el('option', { value: call.documentId }, `${call.frameId === 0 ? 'top' : `frame ${call.frameId}`}: ${call.origin}`));
  }
}

function updateStatus() {
  const refused = [...calls.values()].filter((c) => !c.reply.ok).length;
  $('status').textContent = `tab ${tabId}: ${calls.size} ${calls.size === 1 ? 'call' : 'calls'}, ${refused} refused`;
  $('empty').hidden = calls.size > 0;
}

// ---- the connection to the worker ----------------------------------------
/** @type {chrome.runtime.Port | null} */
let port = null;
function connect() {
  const opened = chrome.runtime.connect({ name: DEVTOOLS_PORT_NAME });
  opened.onMessage.addListener(receive);
  // The worker stopped (it does when idle): it announces the tab's next call.
  opened.onDisconnect.addListener(() => {
    if (port === opened) port = null;
  });
  opened.postMessage({ watch: tabId });
  port = opened;
}
chrome.runtime.onMessage.addListener((message) => {
  if (message?.callsRecorded === tabId && !port) connect();
});

// ---- the toolbar -----------------------------------------------------------
$('refusals').addEventListener('change', render);
$('frame').addEventListener('change', render);
$('clear').addEventListener('click', () => {
  for (const key of calls.keys()) cleared.add(key);
  calls.clear();
  render();
});
$('export').addEventListener('click', () => {
  const record = { tabId, exported: new Date().toISOString(), calls: [...calls.values()] };
  const url = URL.createObjectURL(new Blob([JSON.stringify(record, null, 2)], { type: 'application/json' }));
  const link = el('a', { href: url, download: `cross-origin-storage-tab-${tabId}.json` });
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

if (Number.isInteger(tabId)) connect();
else showError('No tab to show: open this panel from DevTools, or as panel.html?tab=<tab id>.');
updateStatus();
