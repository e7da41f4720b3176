// Runs one row of the compatibility matrix in this page, or in a Web Worker
// it starts (?context=worker), and publishes what happened as
// window.compatResult: {ok, detail | error, apiPresent, calls}.
// Query: row=<tests/compat/app/rows/ module>, hub=<model hub URL>, and the
// row's own parameters; standin=1 installs the in-memory stand-in API first.
import { observe, quiet } from './observe.js';
import { installStandIn } from './standin.js';

/** Runs the row here: the observer first, then the library. */
export async function runRow(params) {
  if (params.standin) installStandIn();
  const apiPresent = typeof navigator.crossOriginStorage?.getFileHandle === 'function';
  const record = observe();
  try {
    const { run } = await import(`./rows/${params.row}.js`);
    const result = await run(params);
    await quiet(record);
    return { ok: true, ...result, apiPresent, calls: record.calls };
  } catch (e) {
    await quiet(record, 500).catch(() => {});
    return { ok: false, error: `${e?.name ?? 'Error'}: ${e?.message ?? e}`, apiPresent, calls: record.calls };
  }
}

function inWorker(params) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return new Promise((resolve) => {
    worker.onmessage = ({ data }) => resolve(data);
    worker.onerror = (e) => resolve({ ok: false, error: `worker error: ${e.message}`, calls: [] });
    worker.postMessage(params);
  });
}

if (globalThis.document) {
  const params = Object.fromEntries(new URLSearchParams(location.search));
  (params.context === 'worker' ? inWorker(params) : runRow(params)).then((result) => {
    window.compatResult = { ...result, context: params.context ?? 'page' };
    document.getElementById('status').textContent = JSON.stringify(window.compatResult, null, 1);
  });
}
