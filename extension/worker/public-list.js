// Which Public Hash List the engine uses, and keeping it fresh.
//
// At start-up: the last good refreshed list (saved-list.js) if it still
// verifies against its sidecar, else the one bundled with the extension,
// else none: the engine then lists nothing (the spec fails closed). A
// refresh downloads the configured list (list-config.js) and its `.sha256`
// sidecar; the engine uses it only if it verifies, and it then REPLACES the
// bundled list (it is the newer one). A refresh that fails keeps the list in
// use and records why. Refreshes run on demand (settings page), when the
// configuration changes, and when the last one is a week old.
//
// An upstream list is ~88 MB (440k digests): its text streams through, in
// the network's chunks, into the engine's parser and into the saved file at
// once; it is never whole in memory.

import { PublicHashListLoader } from '../pkg/cos_wasm.js';
import { onUrlPolicyChange, readConfig, refreshUrl, setUserUrl } from './list-config.js';
import { EMPTY_RECORD, newListFile, openListFile, readRecord, removeListFilesExcept, writeRecord } from './saved-list.js';

/** @typedef {import('../pkg/cos_wasm.js').Store} Store */
/** @typedef {import('../pkg/cos_wasm.js').PublicHashListInfo} PublicHashListInfo */
/** @typedef {import('./saved-list.js').ListRecord} ListRecord */
/** @typedef {import('./list-config.js').Configured} Configured */
/**
 * The list the engine uses, and where it came from.
 * @typedef {PublicHashListInfo & {source: 'bundled' | 'url' | 'policy' | 'none', url: string | null}} InUse
 */

const DAY_MS = 24 * 3600 * 1000;
const REFRESH_AFTER_MS = 7 * DAY_MS;
/** After a failed refresh the list server gets a day, not a week, to recover. */
const RETRY_AFTER_MS = DAY_MS;
/** How often an alarm asks whether a refresh is due (it wakes the worker). */
const ALARM = 'public-hash-list';
const CHECK_EVERY_MINUTES = 6 * 60;
/** ~3 times the upstream list: a misconfigured URL must not fill the disk or the Wasm memory. */
const MAX_LIST_BYTES = 256 * 1024 * 1024;
const MAX_SIDECAR_BYTES = 4096;
/** A download longer than the worker's 30 s idle limit must keep it alive (extension API calls do). */
const KEEP_ALIVE_MS = 20_000;
/** Nothing sent but the request: no cookies to the list server; revalidated, not taken stale from the HTTP cache. */
const FETCH = /** @type {RequestInit} */ ({ credentials: 'omit', cache: 'no-cache' });

/** @type {InUse} */
const NONE = { source: 'none', url: null, version: null, commit: null, count: 0, sections: {}, malformedLines: 0 };

/**
 * The readers of lists being read. Chromium garbage-collects a Blob's stream
 * (a saved list file), its pending read included, once nothing reachable
 * refers to it (the suspended function awaiting the read does not count):
 * the read then never settles, and the worker's start-up, which waits for the
 * saved list, with it. Held here until the list is read.
 * @type {Set<ReadableStreamDefaultReader<Uint8Array<ArrayBuffer>>>}
 */
const reading = new Set();

/**
 * Streams `body` into a new loader (and into `copy`, chunk by chunk, if given).
 * @param {ReadableStream<Uint8Array<ArrayBuffer>>} body
 * @param {{write(chunk: Uint8Array<ArrayBuffer>): Promise<void>}} [copy]
 */
async function read(body, copy) {
  const loader = new PublicHashListLoader();
  const reader = body.getReader();
  reading.add(reader);
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return loader;
      bytes += value.byteLength;
      if (bytes > MAX_LIST_BYTES) throw new Error(`the list is larger than ${MAX_LIST_BYTES} bytes`);
      loader.feed(value);
      await copy?.write(value);
    }
  } catch (e) {
    reader.cancel().catch(() => {});
    loader.free();
    throw e;
  } finally {
    reading.delete(reader);
  }
}

/**
 * Fetches `url` and its sidecar and hands the list to the engine if it
 * verifies, keeping its text in a new list file. Returns what the engine
 * loaded, the file's name and the sidecar.
 * @param {Store} store
 * @param {string} url
 */
async function download(store, url) {
  const sidecarResponse = await fetch(`${url}.sha256`, FETCH);
  if (!sidecarResponse.ok) throw new Error(`${url}.sha256: HTTP ${sidecarResponse.status}`);
  const sidecar = await sidecarResponse.text();
  if (sidecar.length > MAX_SIDECAR_BYTES) throw new Error(`${url}.sha256 is not a sidecar (${sidecar.length} bytes)`);
  const response = await fetch(url, FETCH);
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  const file = await newListFile();
  try {
    const loader = await read(response.body, file);
    // Saved before it is used: the engine never uses a list a restart would not find.
    await file.close();
    return { info: store.usePublicHashList(loader, sidecar), file: file.name, sidecar };
  } catch (e) {
    await file.discard();
    throw e;
  }
}

/**
 * The bundled list (extension/pkg, built by scripts/build).
 * @param {Store} store
 * @param {string} url
 */
async function loadBundled(store, url) {
  const [list, sidecar] = await Promise.all([fetch(url), fetch(`${url}.sha256`)]);
  if (!list.ok || !sidecar.ok || !list.body) throw new Error(`${url}: HTTP ${list.status}, sidecar HTTP ${sidecar.status}`);
  const loader = await read(list.body);
  return store.usePublicHashList(loader, await sidecar.text());
}

/**
 * Whether a refresh from `configured` is due.
 * @param {ListRecord} record
 * @param {Configured | null} configured
 * @param {number} now
 */
function due(record, configured, now) {
  if (!configured) return false;
  if (record.attemptUrl !== configured.url) return true;
  return now - (record.lastAttempt ?? 0) >= (record.lastError ? RETRY_AFTER_MS : REFRESH_AFTER_MS);
}

/** The reason an Error gives, for the settings page. */
const reason = (/** @type {unknown} */ e) => (e instanceof Error ? e.message : String(e));

/**
 * @param {string} bundledUrl the bundled list; its sidecar is `${bundledUrl}.sha256`
 * @param {() => Promise<Store>} storeReady the store, once the worker started
 * @param {() => void} announce tells the extension's open pages that what they show changed
 */
export function createPublicLists(bundledUrl, storeReady, announce) {
  /** @type {InUse} */
  let inUse = NONE;
  /** Why no list is in use, when none is. */
  let loadError = /** @type {string | null} */ (null);
  /** @type {Promise<string | null> | null} */
  let refreshing = null;

  /**
   * Downloads the configured list; one at a time (a second call joins the
   * first). Resolves to why it failed, or null.
   */
  function refresh() {
    refreshing ??= (async () => {
      const { configured } = await readConfig();
      if (!configured) return 'no refresh URL is set';
      const store = await storeReady();
      const record = await readRecord();
      const now = Date.now();
      const keepAlive = setInterval(() => chrome.runtime.getPlatformInfo(), KEEP_ALIVE_MS);
      try {
        const url = refreshUrl(configured.url);
        if (url instanceof Error) throw url;
        const { info, file, sidecar } = await download(store, url).catch((e) => {
          throw new Error(e instanceof TypeError ? `${url}: ${e.message}` : reason(e));
        });
        inUse = { ...info, source: configured.source, url };
        loadError = null;
        const { version, count, sections } = info;
        record.list = { file, sidecar, source: configured.source, url, version, count, sections };
        record.lastRefresh = now;
        record.lastError = null;
      } catch (e) {
        record.lastError = reason(e);
      } finally {
        clearInterval(keepAlive);
      }
      record.lastAttempt = now;
      record.attemptUrl = configured.url;
      await writeRecord(record);
      announce();
      await removeListFilesExcept(record.list?.file ?? null);
      return record.lastError;
    })().finally(() => (refreshing = null));
    return refreshing;
  }

  async function refreshIfDue() {
    const [{ configured }, record] = await Promise.all([readConfig(), readRecord()]);
    if (due(record, configured, Date.now())) await refresh();
  }

  /** No refresh source any more: back to the bundled list, the saved one forgotten. */
  async function useBundled() {
    const store = await storeReady();
    inUse = { ...(await loadBundled(store, bundledUrl)), source: 'bundled', url: null };
    loadError = null;
    await writeRecord(EMPTY_RECORD);
    announce();
    await removeListFilesExcept(null);
  }

  /**
   * The configuration changed: refresh from the new source, or go back to
   * the bundled list. Resolves to why the refresh failed, or null.
   */
  async function reconfigure() {
    await refreshing;
    const { configured } = await readConfig();
    if (configured) return refresh();
    await useBundled();
    return null;
  }

  async function status() {
    const [config, record] = await Promise.all([readConfig(), readRecord()]);
    const { lastRefresh, lastAttempt, lastError } = record;
    return { inUse, loadError, ...config, lastRefresh, lastAttempt, lastError, refreshing: refreshing !== null };
  }

  // Registered when the worker starts, so that these events wake it.
  chrome.alarms.onAlarm.addListener((alarm) => {
    if (alarm.name === ALARM) refreshIfDue().catch((e) => console.error('Public Hash List refresh check failed', e));
  });
  onUrlPolicyChange(() => reconfigure().catch((e) => console.error('Public Hash List reconfiguration failed', e)));

  return {
    /**
     * Picks the list at start-up (see the top of this file); then checks, in
     * the background, whether a refresh is due.
     * @param {Store} store
     */
    async startUp(store) {
      const record = await readRecord();
      if (record.list) {
        const saved = record.list;
        try {
          const text = await openListFile(saved.file);
          if (!text) throw new Error('its file is gone');
          inUse = { ...store.usePublicHashList(await read(text), saved.sidecar), source: saved.source, url: saved.url };
        } catch (e) {
          // Refreshed again at once (attemptUrl forgotten) rather than in a week.
          Object.assign(record, { list: null, attemptUrl: null, lastError: `the saved list from ${saved.url} is not usable: ${reason(e)}` });
          await writeRecord(record);
          announce();
        }
      }
      if (inUse === NONE) {
        try {
          inUse = { ...(await loadBundled(store, bundledUrl)), source: 'bundled', url: null };
        } catch (e) {
          loadError = `the bundled list did not load: ${reason(e)}`;
          console.error(`${loadError}; no file is shared across sites through the global grant`);
        }
      }
      await removeListFilesExcept(record.list?.file ?? null);
      if (!(await chrome.alarms.get(ALARM))) await chrome.alarms.create(ALARM, { periodInMinutes: CHECK_EVERY_MINUTES });
      refreshIfDue().catch((e) => console.error('Public Hash List refresh check failed', e));
    },

    /**
     * A request from the settings page: `{op: 'status'}`, `{op: 'refresh'}`
     * or `{op: 'set-url', url}` (empty: none). Replies like the engine's admin
     * tier: `{ok, value | error}`; the value is the status, the error why the
     * refresh failed (the status records it too).
     * @param {any} request
     */
    async handle(request) {
      try {
        await storeReady();
        /** @type {string | null} */
        let failed = null;
        if (request?.op === 'refresh') failed = await refresh();
        else if (request?.op === 'set-url') {
          if ((await readConfig()).policyUrl) throw new Error('the refresh URL is set by your administrator (policy)');
          await setUserUrl(String(request.url ?? ''));
          failed = await reconfigure();
        } else if (request?.op !== 'status') throw new Error(`unknown Public Hash List request ${JSON.stringify(request?.op)}`);
        if (failed) throw new Error(failed);
        return { ok: true, value: await status() };
      } catch (e) {
        return { ok: false, error: { name: 'Error', code: 'public-list', message: reason(e) } };
      }
    },
  };
}
