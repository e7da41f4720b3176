// The HTML attribute (issue 13) as a content script can provide it:
//   <script src integrity crossoriginstorage> and <link … crossoriginstorage>
// Every such element that loads from the network is stored once loaded; a
// classic script inserted by a page script is served from the store when it
// is there, with no request (the test server logs every request). Parser-
// inserted elements, modules and stylesheets are stored but never served
// (extension/content/api/declarative.js says why).
import { test, expect } from './fixtures.mjs';
import { integrityOf, libScript } from './server.mjs';
import { createHash } from 'node:crypto';

const hexOf = (text) => createHash('sha256').update(text).digest('hex');
const requestsFor = (server, prefix) => server.requests.filter((r) => r.path.startsWith(prefix));

/** Waits until `page` can read `hex` from the store (stores run after the element loaded). */
async function untilStored(page, hex) {
  await expect.poll(() => page.evaluate((v) => outcome(() => readBack(v)).then((r) => r.ok?.hash ?? r.name), hex)).toBe(hex);
}

/** Inserts `<script>` with `attributes` by script (appendChild), resolving with 'load' or 'error' and the runs it made. */
function insertScript(page, attributes) {
  return page.evaluate(
    (attributes) =>
      new Promise((resolve) => {
        const script = document.createElement('script');
        for (const [name, value] of Object.entries(attributes)) script.setAttribute(name, value);
        const done = (event) => resolve({ event: event.type, runs: { ...window.libRuns } });
        script.onload = done;
        script.onerror = done;
        document.head.appendChild(script);
      }),
    attributes,
  );
}

test('a parser-inserted script runs from the network and is stored; inserted by script on its site later, it comes from the store', async ({
  openPage,
  server,
}) => {
  const seed = 5;
  const a = await openPage('a.test', `/declarative.html?seed=${seed}&scope=`);
  expect(await a.evaluate(() => window.libRuns)).toEqual({ [seed]: 1 });
  await untilStored(a, hexOf(libScript(seed)));

  // Same site, another URL with the same bytes: only the store can serve it.
  const sub = await openPage('sub.a.test');
  const loaded = await insertScript(sub, { src: `/lib.js?seed=${seed}&copy=1`, integrity: integrityOf(libScript(seed)), crossoriginstorage: '' });
  expect(loaded).toEqual({ event: 'load', runs: { [seed]: 1 } });
  expect(requestsFor(server, `/lib.js?seed=${seed}&copy=1`), 'served from the store').toEqual([]);
});

test('a script inserted by script runs from the network when not stored, is stored, and the next one comes from the store', async ({
  openPage,
  server,
}) => {
  const seed = 6;
  const page = await openPage('c.test');
  const integrity = integrityOf(libScript(seed));
  const first = await insertScript(page, { src: `/lib.js?seed=${seed}&n=1`, integrity, crossoriginstorage: '*' });
  expect(first).toEqual({ event: 'load', runs: { [seed]: 1 } });
  expect(requestsFor(server, `/lib.js?seed=${seed}&n=1`).length).toBeGreaterThanOrEqual(1);
  await untilStored(page, hexOf(libScript(seed)));
  const second = await insertScript(page, { src: `/lib.js?seed=${seed}&n=2`, integrity, crossoriginstorage: '*' });
  expect(second).toEqual({ event: 'load', runs: { [seed]: 2 } });
  expect(requestsFor(server, `/lib.js?seed=${seed}&n=2`)).toEqual([]);
  // Not stored, and the network's bytes do not match: refused as without the store.
  const wrong = await insertScript(page, { src: `/lib.js?seed=${seed + 1}`, integrity: integrityOf('other bytes'), crossoriginstorage: '*' });
  expect(wrong).toEqual({ event: 'error', runs: { [seed]: 2 } });
});

test('module scripts are stored once loaded but always load from the network', async ({ openPage, server }) => {
  const seed = 7;
  const page = await openPage('a.test');
  const integrity = integrityOf(libScript(seed));
  const first = await insertScript(page, { type: 'module', src: `/lib.js?seed=${seed}&m=1`, integrity, crossoriginstorage: '' });
  expect(first.event).toBe('load');
  await untilStored(page, hexOf(libScript(seed)));
  await insertScript(page, { type: 'module', src: `/lib.js?seed=${seed}&m=2`, integrity, crossoriginstorage: '' });
  expect(requestsFor(server, `/lib.js?seed=${seed}&m=2`)).toHaveLength(1);
});
