// Handles through postMessage() (issue 13): to same-origin frames and
// workers they arrive usable, with the readability they had; to another
// origin they fail with DataCloneError. How far script can go is in
// extension/content/api/transfer.js.
import { test, expect } from './fixtures.mjs';

/** In the page: a stored file's read handle and a create handle for new bytes (not yet written). */
async function makeHandles() {
  const stored = await storeBytes(patternBytes(3000, 101));
  const fresh = patternBytes(2000, 102);
  window.handles = {
    read: await cos().getFileHandle(hashOf(stored)),
    create: await cos().getFileHandle(hashOf(await sha256Hex(fresh)), { create: true }),
  };
  return { stored, fresh: await sha256Hex(fresh) };
}

/** In the receiving realm: what the two handles can do there (the create handle then writes its bytes). */
async function useHandles({ read, create }) {
  const describe = async (h) => ({
    instance: h instanceof FileSystemFileHandle,
    kind: h.kind,
    name: h.name,
    read: await h.queryPermission(),
    readwrite: await h.queryPermission({ mode: 'readwrite' }),
    file: await outcome(async () => (await h.getFile()).size),
  });
  const before = { read: await describe(read), create: await describe(create) };
  const written = await outcome(async () => {
    const w = await create.createWritable();
    await w.write(patternBytes(2000, 102));
    await w.close();
    return (await create.getFile()).size;
  });
  return { before, written, same: await read.isSameEntry(read), different: await read.isSameEntry(create) };
}

function expectUsable(result, ids) {
  expect(result.before.read).toEqual({ instance: true, kind: 'file', name: ids.stored, read: 'granted', readwrite: 'denied', file: { ok: 3000 } });
  expect(result.before.create).toMatchObject({ instance: true, name: ids.fresh, read: 'denied', readwrite: 'granted', file: { name: 'NotAllowedError' } });
  expect(result.written).toEqual({ ok: 2000 });
  expect(result.same).toBe(true);
  expect(result.different).toBe(false);
}

test('handles sent to a dedicated worker, through a MessagePort, and back keep their readability', async ({ openPage }) => {
  const page = await openPage('a.test');
  const ids = await page.evaluate(makeHandles);
  const result = await page.evaluate(async (use) => {
    const worker = startWorker();
    // The worker listens first, then the handles are sent.
    await worker.call((use) => {
      self.received = new Promise((resolve) =>
        self.addEventListener('message', ({ data }) => data?.handles && resolve((0, eval)(`(${use})`)(data.handles)), { once: true }),
      );
    }, use);
    worker.worker.postMessage({ handles });
    const received = worker.call(() => self.received);
    // Through a port, and back: the worker echoes what arrives on a port it is given.
    await worker.call(() => {
      self.echoing = new Promise((resolve) =>
        self.addEventListener('message', function onPort({ ports }) {
          if (!ports[0]) return;
          self.removeEventListener('message', onPort);
          ports[0].onmessage = ({ data }) => ports[0].postMessage(data);
          resolve();
        }),
      );
    });
    const { port1, port2 } = new MessageChannel();
    worker.worker.postMessage('port', [port2]);
    await worker.call(() => self.echoing);
    const echoed = new Promise((resolve) => (port1.onmessage = ({ data }) => resolve(data)));
    port1.postMessage({ nested: [new Map([['h', handles.read]])] });
    const back = await echoed;
    return { inWorker: await received, back: (await back.nested[0].get('h').getFile()).size };
  }, String(useHandles));
  expectUsable(result.inWorker, ids);
  expect(result.back).toBe(3000);
});

test('handles sent to a same-origin frame through a MessagePort, and through structuredClone, keep their readability', async ({ openPage }) => {
  const page = await openPage('a.test');
  const ids = await page.evaluate(makeHandles);
  const result = await page.evaluate(async (use) => {
    const frame = document.createElement('iframe');
    frame.src = '/page.html';
    document.body.append(frame);
    await new Promise((resolve) => (frame.onload = resolve));
    const received = new Promise((resolve) =>
      frame.contentWindow.addEventListener(
        'message',
        ({ ports }) => (ports[0].onmessage = ({ data }) => resolve(frame.contentWindow.eval(`(${use})`)(data))),
        { once: true },
      ),
    );
    const { port1, port2 } = new MessageChannel();
    frame.contentWindow.postMessage('port', '*', [port2]);
    port1.postMessage(handles);
    // window.postMessage() itself is the browser's own (see api/transfer.js): it refuses handles.
    const direct = await outcome(() => frame.contentWindow.postMessage(handles, '*'));
    const cloned = structuredClone({ h: handles.read });
    return { inFrame: await received, direct: direct.name, cloned: (await cloned.h.getFile()).size };
  }, String(useHandles));
  expectUsable(result.inFrame, ids);
  expect(result.direct).toBe('DataCloneError');
  expect(result.cloned).toBe(3000);
});

test('a handle sent to another origin fails with DataCloneError: a window at once, a port or a data: worker when read', async ({ openPage, server }) => {
  const page = await openPage('a.test');
  await page.evaluate(makeHandles);
  await page.evaluate(async (bOrigin) => {
    const frame = document.createElement('iframe');
    frame.src = `${bOrigin}/page.html`;
    document.body.append(frame);
    await new Promise((resolve) => (frame.onload = resolve));
  }, server.origin('b.test'));
  const frame = page.frames().find((f) => f.url().startsWith(server.origin('b.test')));
  // The other origin takes a port and reads what comes through it.
  await frame.evaluate(() =>
    window.addEventListener('message', ({ ports }) => {
      ports[0].onmessage = (event) => {
        try {
          window.portResult = typeof event.data.h;
        } catch (e) {
          window.portResult = e.name;
        }
      };
    }),
  );
  const result = await page.evaluate(async (bOrigin) => {
    const frame = document.querySelector('iframe').contentWindow;
    const toWindow = await outcome(() => frame.postMessage({ h: handles.read }, bOrigin));
    const { port1, port2 } = new MessageChannel();
    frame.postMessage('port', bOrigin, [port2]);
    port1.postMessage({ h: handles.read });
    const dataWorker = new Worker(`data:text/javascript,${encodeURIComponent(`
      onmessage = (event) => { try { postMessage(typeof event.data.h); } catch (e) { postMessage(e.name); } };`)}`);
    const inDataWorker = new Promise((resolve) => (dataWorker.onmessage = ({ data }) => resolve(data)));
    dataWorker.postMessage({ h: handles.read });
    return { toWindow, inDataWorker: await inDataWorker };
  }, server.origin('b.test'));
  expect(result.toWindow.name).toBe('DataCloneError');
  expect(result.inDataWorker).toBe('DataCloneError');
  await expect.poll(() => frame.evaluate(() => window.portResult)).toBe('DataCloneError');
});
