// The attacker's side: hostile pages speaking the bridge protocol directly,
// frames borrowing another frame's channel, opaque and insecure documents.
import { test, expect } from './fixtures.mjs';
import { admin } from './sw-tools.mjs';

const hashOf = (value) => ({ algorithm: 'SHA-256', value });
/** Larger than GREASE's limit (500 KiB): another site's read is never refused at random. */
const LARGE = 600_000;

/** a.test stores a same-site-only secret; returns its hash. */
async function storeSecret(openPage) {
  const a = await openPage('a.test');
  return { a, secret: await a.evaluate(() => storeBytes(patternBytes(4096, 42))) };
}

test('forged requests that name another origin get nothing', async ({ openPage, server }) => {
  const { secret } = await storeSecret(openPage);
  const b = await openPage('b.test');
  const replies = await b.evaluate(
    async ({ secret, victim }) => {
      const send = rawChannel();
      const hash = { algorithm: 'SHA-256', value: secret };
      return {
        claimOrigin: await send({ op: 'read', hash, origin: victim }),
        claimCaller: await send({ op: 'open', hash, caller: victim, sender: { origin: victim } }),
        plainRead: await send({ op: 'read', hash }),
        plainOpen: await send({ op: 'open', hash }),
        notJson: await send('{"op":"read",'),
        notString: await send({ toString: 1 }),
        nonsenseOp: await send({ op: 'list' }),
        chromeRuntime: typeof globalThis.chrome?.runtime?.sendMessage,
        chromeConnect: typeof globalThis.chrome?.runtime?.connect,
      };
    },
    { secret, victim: server.origin('a.test') },
  );
  for (const key of ['claimOrigin', 'claimCaller', 'notJson', 'nonsenseOp']) {
    expect(replies[key], key).toMatchObject({ ok: false, error: { name: 'TypeError', code: 'invalid-message' } });
  }
  expect(replies.plainRead).toMatchObject({ ok: false, error: { name: 'NotFoundError' } });
  expect(replies.plainRead.fileSize).toBeUndefined();
  expect(replies.plainOpen).toMatchObject({ ok: false, error: { name: 'NotFoundError' } });
  expect(replies.notString).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
  expect(replies.chromeRuntime, 'pages cannot message the extension directly').toBe('undefined');
  expect(replies.chromeConnect, 'pages cannot open a port to the extension').toBe('undefined');
});

test("a cross-site iframe cannot use its parent's channel", async ({ openPage, server }) => {
  const { a, secret } = await storeSecret(openPage);
  await a.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.src = src;
    document.body.append(frame);
    return new Promise((r) => (frame.onload = r));
  }, server.origin('b.test') + '/page.html');
  const frame = a.frames().find((f) => f.url().startsWith(server.origin('b.test')));
  const got = await frame.evaluate(async (value) => {
    const viaParent = await rawChannel(parent)({ op: 'read', hash: { algorithm: 'SHA-256', value } }, undefined, 2000);
    const viaOwnApi = await outcome(() => readBack(value));
    return { viaParent, viaOwnApi };
  }, secret);
  expect(got.viaParent, 'the parent bridge ignores other frames').toEqual({ timeout: true });
  // Its own API: the parent did not allow it (Permissions Policy; frames.spec has the rest).
  expect(got.viaOwnApi.name).toBe('NotAllowedError');
  // The same-site parent itself still reads it.
  expect((await a.evaluate((v) => outcome(() => readBack(v)), secret)).ok?.hash).toBe(secret);
});

test('an opaque-origin (sandboxed) frame gets NotAllowedError, never files', async ({ openPage, server }) => {
  const { a, secret } = await storeSecret(openPage);
  await a.evaluate((src) => {
    const frame = document.createElement('iframe');
    frame.sandbox = 'allow-scripts';
    frame.src = src;
    document.body.append(frame);
    return new Promise((r) => (frame.onload = r));
  }, server.origin('a.test') + '/page.html?sandboxed');
  const frame = a.frames().find((f) => f.url().endsWith('?sandboxed'));
  const got = await frame.evaluate(async (value) => ({
    origin: self.origin,
    api: 'crossOriginStorage' in navigator ? await outcome(() => readBack(value)) : 'absent',
    raw: await rawChannel()({ op: 'read', hash: { algorithm: 'SHA-256', value } }, undefined, 2000),
    store: 'crossOriginStorage' in navigator ? await outcome(() => storeBytes(new Uint8Array([1]), { origins: '*' })) : 'absent',
  }), secret);
  expect(got.origin).toBe('null');
  expect(got.api).toMatchObject({ name: 'NotAllowedError' });
  expect(got.store).toMatchObject({ name: 'NotAllowedError' });
  expect(got.raw).toMatchObject({ ok: false, error: { name: 'NotAllowedError' } });
});

test('an insecure page gets no API and no relay', async ({ openPage }) => {
  const page = await openPage('insecure.test');
  const got = await page.evaluate(async () => ({
    api: 'crossOriginStorage' in navigator,
    raw: await rawChannel()({ op: 'open', hash: { algorithm: 'SHA-256', value: '0'.repeat(64) } }, undefined, 2000),
  }));
  expect(got).toEqual({ api: false, raw: { timeout: true } });
});

test("another origin cannot drive or finish someone else's write", async ({ openPage }) => {
  const a = await openPage('a.test');
  const { session, value } = await a.evaluate(async () => {
    window.send = rawChannel();
    const bytes = patternBytes(1000, 50);
    window.bytes = bytes;
    const value = await sha256Hex(bytes);
    const reply = await send({ op: 'write-begin', hash: hashOf(value), origins: '*' });
    return { session: reply.value.session, value };
  });
  expect(session).toBeTruthy();
  const b = await openPage('b.test');
  const hijack = await b.evaluate(async (session) => {
    const send = rawChannel();
    return {
      write: await send({ op: 'write', session }, new Blob(['poison'])),
      truncate: await send({ op: 'truncate', session, size: 0 }),
      close: await send({ op: 'close', session }),
      abort: await send({ op: 'abort', session }),
    };
  }, session);
  for (const [key, reply] of Object.entries(hijack)) {
    expect(reply, key).toMatchObject({ ok: false, error: { name: 'InvalidStateError', code: 'unknown-session' } });
  }
  const finished = await a.evaluate(async ({ session, value }) => {
    const write = await send({ op: 'write', session }, new Blob([bytes]));
    const close = await send({ op: 'close', session });
    return { write: write.ok, close: close.ok, read: await readBack(value) };
  }, { session, value });
  expect(finished).toMatchObject({ write: true, close: true, read: { size: 1000, hash: value } });
});

test('poisoning a popular hash with other bytes fails and the original stays intact', async ({ context, serviceWorker, openPage }) => {
  const a = await openPage('a.test');
  const popular = await a.evaluate((size) => storeBytes(patternBytes(size, 60), { origins: '*' }), LARGE);
  // Popular: on the Public Hash List, so b.test can read it back below.
  await admin(context, serviceWorker, { op: 'add-public-hashes', hashes: [popular] });
  const b = await openPage('b.test');
  const attempts = await b.evaluate(async ({ value, size }) => {
    const cos = navigator.crossOriginStorage;
    const evil = new TextEncoder().encode('evil payload');
    const direct = await outcome(() => storeBytes(evil, { origins: '*' }, value));
    // Same length, one byte changed, written in pieces and with a seek.
    const near = patternBytes(size, 60);
    near[5000] ^= 1;
    const pieces = await outcome(async () => {
      const w = await (await cos.getFileHandle(hashOf(value), { create: true, origins: '*' })).createWritable();
      await w.write(near.slice(0, 6000));
      await w.seek(6000);
      await w.write(near.slice(6000));
      await w.close();
    });
    return { direct, pieces, read: await readBack(value) };
  }, { value: popular, size: LARGE });
  expect(attempts.direct.name).toBe('DataError');
  expect(attempts.pieces.name).toBe('DataError');
  expect(attempts.read).toMatchObject({ size: LARGE, hash: popular });
});
