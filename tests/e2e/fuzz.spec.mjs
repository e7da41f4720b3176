// A hostile page fuzzing the page-reachable channel: ≥ 10,000 random and
// mutated messages on the bridge port. Requests are structured values, so
// most are: random objects and values, valid requests mutated at any depth
// (wrong types, exotic values, missing fields), values over the decoder's
// limits (strings past 64 KiB, nesting past 4 levels, more than 256 items)
// or just under them, and non-plain objects (Blob, Map, Date, ArrayBuffer,
// BigInt, ...) as the request; a share is text (the old wire's JSON,
// mutated), which is never a request. Beside them: Blobs and buffers where
// none belong, claimed origins, admin operations, hijacked and guessed
// session ids, and forged connect handshakes. Each must get a clean error or be ignored; the worker
// must not crash or restart, and nothing may be disclosed or stored.
// COS_FUZZ_COUNT (default 10,000; 100,000 with COS_LONG=1) and COS_FUZZ_SEED.
import { test, expect } from './fixtures.mjs';
import { inWorker, storeState } from './sw-tools.mjs';

const LONG = process.env.COS_LONG === '1';
const COUNT = Number(process.env.COS_FUZZ_COUNT ?? (LONG ? 100_000 : 10_000));
const SEED = Number(process.env.COS_FUZZ_SEED ?? 20260611);

/** Runs in the attacker's page: sends `count` fuzzed messages; returns a tally. */
async function fuzz({ count, seed, secrets, victim }) {
  // mulberry32
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const below = (n) => Math.floor(rand() * n);
  const pick = (a) => a[below(a.length)];
  const chance = (p) => rand() < p;

  const OPS = ['open', 'read', 'write-begin', 'write', 'seek', 'truncate', 'close', 'abort', 'summary', 'delete', 'delete-site', 'clear', 'settings', 'OPEN', 'list', ''];
  const KEYS = ['op', 'hash', 'algorithm', 'value', 'create', 'origins', 'session', 'position', 'size', 'settings', 'budgetBytes', 'strictGlobal', 'origin', 'caller', 'sender', '__proto__', 'constructor', 'data', 'id', 'request', 'tab', 'url'];
  const hexOf = (n) => Array.from({ length: n }, () => '0123456789abcdef'[below(16)]).join('');
  const sessions = []; // ids this page really opened (recent ones, to fuzz with)
  const opened = []; // all of them, to abort at the end
  const STRINGS = () => ['SHA-256', 'sha-256', 'SHA-1', 'md5', '*', 'null', victim, `${victim}/`, 'http://b.test', 'data:,x', 'blob:' + victim + '/x', 'file://', 'chrome-extension://' + 'a'.repeat(32), ...secrets, secrets[0].toUpperCase(), secrets[0].slice(1), '\u0000\uffff\ud800', '../../blobs/' + secrets[0], ...sessions.slice(-3), `${crypto.randomUUID()}-${below(20)}`];
  const randomString = () => {
    switch (below(5)) {
      case 0: return pick(STRINGS());
      case 1: return pick(OPS);
      case 2: return Array.from({ length: below(60) }, () => String.fromCharCode(below(0x10000))).join('');
      case 3: return hexOf(60 + below(8));
      default: return Array.from({ length: below(40) }, () => String.fromCharCode(32 + below(95))).join('');
    }
  };
  const randomNumber = () => pick([0, -1, 1.5, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.MAX_VALUE, NaN, Infinity, -0, below(1 << 20)]);
  const randomValue = (depth = 3) => {
    switch (below(depth > 0 ? 8 : 5)) {
      case 0: return null;
      case 1: return chance(0.5);
      case 2: return randomNumber();
      case 3: case 4: return randomString();
      case 5: return Array.from({ length: below(5) }, () => randomValue(depth - 1));
      default: return randomObject(depth - 1);
    }
  };
  const randomObject = (depth = 2) => {
    const o = {};
    if (chance(0.8)) o.op = pick(OPS);
    for (let i = below(5); i > 0; i--) o[chance(0.85) ? pick(KEYS) : randomString()] = randomValue(depth);
    return o;
  };
  const hash = () => ({ algorithm: chance(0.8) ? 'SHA-256' : randomString(), value: chance(0.7) ? pick(secrets) : chance(0.5) ? hexOf(64) : randomString() });
  const session = () => (sessions.length && chance(0.6) ? pick(sessions) : randomString());
  const valid = () => {
    const origins = pick([undefined, '*', victim, [victim, 'http://b.test'], [], ['*'], Array.from({ length: 70 }, (_, i) => `https://o${i}.test`)]);
    switch (below(12)) {
      case 0: return { op: 'open', hash: hash() };
      case 1: return { op: 'open', hash: hash(), create: true, origins };
      case 2: return { op: 'read', hash: hash() };
      case 3: return { op: 'write-begin', hash: hash(), origins };
      case 4: return { op: 'write', session: session(), position: chance(0.5) ? undefined : randomNumber() };
      case 5: return { op: 'seek', session: session(), position: randomNumber() };
      case 6: return { op: 'truncate', session: session(), size: randomNumber() };
      case 7: return { op: 'close', session: session() };
      case 8: return { op: 'abort', session: session() };
      case 9: return { op: pick(['clear', 'summary', 'delete', 'delete-site', 'settings']), hash: pick(secrets), origin: victim, settings: { budgetBytes: 0, strictGlobal: false } };
      case 10: return { op: 'read', hash: hash(), origin: victim, caller: victim, sender: { origin: victim, tab: { id: 1 } } };
      default: return { ...randomObject(), hash: hash() };
    }
  };
  const mutateObject = (o) => {
    const keys = Object.keys(o);
    switch (below(5)) {
      case 0: if (keys.length) o[pick(keys)] = randomValue(); break;
      case 1: if (keys.length) delete o[pick(keys)]; break;
      case 2: o[pick(KEYS)] = randomValue(); break;
      case 3: o.op = pick(OPS); break;
      default: if (o.hash && typeof o.hash === 'object') o.hash[pick(['algorithm', 'value', 'extra'])] = randomValue(1);
    }
    return o;
  };
  const mutateString = (str) => {
    let out = str;
    for (let i = 1 + below(3); i > 0; i--) {
      const at = below(out.length + 1);
      switch (below(5)) {
        case 0: out = out.slice(0, at) + String.fromCharCode(out.charCodeAt(at) ^ (1 << below(7))) + out.slice(at + 1); break;
        case 1: out = out.slice(0, at) + pick(['{', '}', '[', ']', '"', ':', ',', '\\', 'null', '-1', '1e999', '\u0000']) + out.slice(at); break;
        case 2: out = out.slice(0, at) + out.slice(at + below(8)); break;
        case 3: out = out.slice(0, at); break;
        default: out = out.slice(0, at) + out.slice(at, at + 16) + out.slice(at);
      }
    }
    return out;
  };
  const big = (n) => 'x'.repeat(n);

  // ---- structured requests: what the wire carries ----
  // The decoder's limits (crates/cos-core/src/message.rs): strings 64 KiB in
  // all, 4 levels, 256 fields and elements; plain objects and arrays only.
  const STRING_BUDGET = 64 * 1024;
  /** Values that are not plain data: each must be refused wherever it sits. */
  const exotic = () =>
    pick([
      () => new Blob([JSON.stringify({ op: 'read', hash: hash() })]),
      () => new Map([['op', 'read'], ['hash', hash()]]),
      () => new Set(['open']),
      () => new Date(),
      () => new ArrayBuffer(8),
      () => new Uint8Array([1, 2, 3]),
      () => new DataView(new ArrayBuffer(4)),
      () => new File(['x'], 'x.txt'),
      () => /op/g,
      () => new Error('op'),
      () => 10n ** 30n,
      () => new String('open'),
      () => new Number(1),
      () => new Boolean(true),
    ])();
  /** Something of another type than `v` (a string for a number, an array for a string, ...). */
  const wrongType = (v) => {
    const options = [null, chance(0.5), randomNumber(), randomString(), [v], { value: v }, exotic()];
    return pick(options.filter((o) => typeof o !== typeof v || Array.isArray(o) !== Array.isArray(v)));
  };
  /** `value` under `levels` more levels of objects and arrays. */
  const nest = (value, levels) => {
    for (let i = 0; i < levels; i++) value = chance(0.5) ? [value] : { [pick(KEYS)]: value };
    return value;
  };
  const manyItems = (n) => Array.from({ length: n }, (_, i) => (chance(0.5) ? `https://o${i}.test` : i));
  const manyFields = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
  /** Over one of the limits, or just under it (then the schema must refuse it). */
  const overLimit = () => {
    const v = valid();
    switch (below(12)) {
      case 0: return { ...v, hash: { algorithm: 'SHA-256', value: big(STRING_BUDGET - 64 + below(128)) } };
      case 1: return { op: 'read', hash: { algorithm: 'SHA-256', value: big(STRING_BUDGET + below(8 << 20)) } };
      case 2: return { ...v, origins: Array.from({ length: 20 + below(100) }, () => `https://${big(600 + below(1000))}.test`) };
      case 3: return { ...v, [big(STRING_BUDGET + below(1000))]: 1 };
      case 4: return { ...v, session: big(1 << (16 + below(6))) };
      case 5: return { ...v, hash: nest(v.hash ?? hash(), 3 + below(4)) };
      case 6: return nest(v, 4 + below(60));
      case 7: return { ...v, origins: nest([victim], 1 + below(1000)) };
      case 8: return { ...v, origins: manyItems(257 + below(5000)) };
      case 9: return { ...v, ...manyFields(250 + below(300)) };
      case 10: { const sparse = [victim]; sparse.length = 2 ** 32 - 1; return { ...v, origins: sparse }; }
      default: return { ...v, origins: Array.from({ length: 64 + below(8) }, (_, i) => `https://o${i}.test`) };
    }
  };
  /** A valid request with one field, somewhere in it, of the wrong type, exotic, or missing. */
  const mutateDeep = (o) => {
    let target = o;
    for (let hops = below(3); hops > 0; hops--) {
      const inner = Object.values(target).filter((x) => x && typeof x === 'object' && !(x instanceof Blob));
      if (!inner.length) break;
      target = pick(inner);
    }
    const keys = Object.keys(target);
    if (!keys.length) return o;
    const key = pick(keys);
    switch (below(5)) {
      case 0: target[key] = wrongType(target[key]); break;
      case 1: target[key] = exotic(); break;
      case 2: target[key] = nest(target[key], 1 + below(3)); break;
      case 3: delete target[key]; break;
      default: target[key] = pick([undefined, null, -0, NaN, Infinity, 2 ** 53, 2 ** 64, 1e-300, -1, 1.5]);
    }
    return o;
  };
  /** Returns [kind, request]. */
  const request = () => {
    const r = below(100);
    // A share of text: the old wire's JSON, mutated or not; all refused as not an object.
    if (r < 4) return ['text', JSON.stringify(valid())];
    if (r < 7) return ['text', mutateString(JSON.stringify(valid()))];
    if (r < 9) return ['text', chance(0.5) ? randomString() : JSON.stringify(randomValue(4))];
    if (r < 10) return ['text', chance(0.5) ? '['.repeat(10_000 + below(100_000)) : big(1 << (16 + below(8)))];
    if (r < 25) return ['random', chance(0.8) ? randomObject(3) : randomValue(6)];
    if (r < 45) return ['valid', valid()];
    if (r < 55) return ['mutated', mutateObject(valid())];
    if (r < 72) return ['mutated', mutateDeep(valid())];
    if (r < 90) return ['limits', overLimit()];
    if (r < 97) return ['exotic', exotic()];
    // Not cloneable at all: postMessage itself throws.
    return ['uncloneable', pick([{ op: 'read', hash: hash(), toJSON() {} }, { op: Symbol('open') }, () => 'open'])];
  };
  const data = () => {
    const r = below(100);
    if (r < 55) return undefined;
    if (r < 75) return new Blob([new Uint8Array(below(1 << 16))]);
    if (r < 78) return new Blob([new Uint8Array(1 << 20)]);
    if (r < 82) return new Uint8Array(below(4096)).buffer;
    if (r < 84) return new Uint8Array(below(4096));
    if (r < 86) return new File(['x'], 'x.txt');
    if (r < 88) return { size: 10, type: 'fake-blob', arrayBuffer: null };
    if (r < 90) return randomValue(2);
    if (r < 91) return new Blob([new Uint8Array(16 << 20)]);
    return pick(['a string', 12345, [new Blob(['a'])], { blob: new Blob(['a']) }, new Map(), new Set([1]), new Date(0), new Error('e')]);
  };

  // ---- the channel ----
  const { port1, port2 } = new MessageChannel();
  window.postMessage({ type: 'cross-origin-storage:connect' }, '*', [port2]);
  const waiting = new Map();
  const untracked = { replies: 0 };
  port1.onmessage = ({ data: reply }) => {
    const settle = waiting.get(reply?.id);
    if (settle) {
      waiting.delete(reply.id);
      settle(reply);
    } else untracked.replies++;
  };
  let nextId = 0;
  const send = (message) =>
    new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ timeout: true });
      }, 20_000);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      try {
        port1.postMessage({ ...message, id });
      } catch (e) {
        clearTimeout(timer);
        waiting.delete(id);
        resolve({ refusedByBrowser: e.name });
      }
    });

  const tally = { sent: 0, byKind: {}, ok: {}, errors: {}, refusals: {}, textNotRefused: [], timeouts: 0, refusedByBrowser: 0, disclosed: [], files: 0, badReplies: [], untrackedSent: 0 };
  const KNOWN = ['TypeError', 'NotSupportedError', 'NotAllowedError', 'NotFoundError', 'DataError', 'InvalidStateError', 'QuotaExceededError'];
  /** What the decoder refused a request for, by the start of its message. */
  const REFUSALS = {
    notObject: /^malformed request: a request is an object/,
    notPlain: /^malformed request: a request holds only plain/,
    tooDeep: /^malformed request: nested deeper/,
    tooMany: /^malformed request: more than \d+ fields/,
    tooLong: /^malformed request: strings longer/,
  };
  const describe = (req) => {
    try {
      return (typeof req === 'string' ? JSON.stringify(req.slice(0, 200)) : JSON.stringify(req, (k, v) => (typeof v === 'string' && v.length > 100 ? `${v.slice(0, 20)}…(${v.length})` : v))).slice(0, 300);
    } catch {
      return String(req).slice(0, 300);
    }
  };
  const record = ([kind, req], reply) => {
    tally.sent++;
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    if (reply.timeout) return void tally.timeouts++;
    if (reply.refusedByBrowser) return void tally.refusedByBrowser++;
    if (reply.file) tally.files++;
    // What arrives is a clone of own fields: an object whose prototype a
    // `__proto__` key replaced is still a plain object there.
    const plain = !['text', 'exotic', 'uncloneable'].includes(kind) && req !== null && typeof req === 'object' && !Array.isArray(req);
    const op = plain && Object.hasOwn(req, 'op') ? req.op : '?';
    if (reply.ok === true) {
      tally.ok[op] = (tally.ok[op] ?? 0) + 1;
      if (reply.value?.session) sessions.push(reply.value.session), opened.push(reply.value.session);
      // Success is fine for create handles and for writes into this page's own sessions;
      // a read or read-open must never succeed: this page stored nothing. Only plain objects are requests.
      if (!plain || op === 'read' || (op === 'open' && !req.create) || !['open', 'write-begin', 'write', 'seek', 'truncate', 'abort'].includes(op)) {
        tally.disclosed.push({ req: describe(req), reply: JSON.stringify(reply).slice(0, 300) });
      }
      return;
    }
    const e = reply.error;
    if (reply.ok !== false || !e || !KNOWN.includes(e.name) || typeof e.message !== 'string' || !e.message || typeof e.code !== 'string') {
      tally.badReplies.push(JSON.stringify(reply).slice(0, 300));
      return;
    }
    const key = `${e.name}/${e.code}`;
    tally.errors[key] = (tally.errors[key] ?? 0) + 1;
    const refusal = Object.keys(REFUSALS).find((name) => REFUSALS[name].test(e.message)) ?? (e.code === 'invalid-message' ? 'schema' : 'rule');
    tally.refusals[refusal] = (tally.refusals[refusal] ?? 0) + 1;
    // Text is never a request, whatever it says (a long one is refused by its length first).
    if (kind === 'text' && !['notObject', 'tooLong'].includes(refusal)) tally.textNotRefused.push({ req: describe(req), error: e });
  };

  const t0 = performance.now();
  const WAVE = 40;
  for (let done = 0; done < count; done += WAVE) {
    const wave = [];
    for (let i = 0; i < Math.min(WAVE, count - done); i++) {
      const req = request();
      const msg = { request: req[1], data: data() };
      if (chance(0.1)) Object.assign(msg, { origin: victim, sender: { origin: victim, id: 'x' }, tab: { id: 1 }, frameId: 0 });
      wave.push(send(msg).then((reply) => record(req, reply)));
    }
    // Now and then, messages without a usable id (replies cannot be matched; only counted).
    if (chance(0.2)) {
      for (const m of [null, 7, 'string', { request: valid() }, { request: JSON.stringify(valid()) }, { id: { nested: 1 }, request: {} }, { id: new Date(), request: valid() }]) {
        port1.postMessage(m);
        tally.untrackedSent++;
      }
    }
    await Promise.all(wave);
    if (sessions.length > 200) sessions.splice(0, sessions.length - 50);
  }
  tally.ms = Math.round(performance.now() - t0);
  // An origin may hold 64 open writables; the fuzzer's abandoned ones would
  // block its own later writes for the 5-minute idle expiry. Abort them.
  const aborts = await Promise.all(opened.map((session) => send({ request: { op: 'abort', session } })));
  tally.aborted = aborts.filter((r) => r.ok).length;
  tally.opened = opened;
  tally.untrackedReplies = untracked.replies;
  tally.sessionsOpened = tally.ok['write-begin'] ?? 0;
  // Forged handshakes on the window: wrong shapes, no port, many ports, other
  // types. Called once the aborts above were checked: past 32 channels, the
  // bridge closes this page's oldest, the fuzzer's, which ends its writes.
  window.forgeHandshakes = async () => {
    let handshakes = 0;
    for (let i = 0; i < 300; i++) {
      const ch = new MessageChannel();
      const shape = pick([
        { type: 'cross-origin-storage:connect' },
        { type: 'cross-origin-storage:CONNECT' },
        { type: ['cross-origin-storage:connect'] },
        { type: { toString: () => 'cross-origin-storage:connect' } },
        'cross-origin-storage:connect',
        null,
        { type: 'cross-origin-storage:connect', request: valid() },
      ]);
      try {
        window.postMessage(shape, '*', pick([[], [ch.port2], [ch.port2, new MessageChannel().port2]]));
        handshakes++;
      } catch {}
    }
    await new Promise((r) => setTimeout(r, 500));
    return handshakes;
  };
  return tally;
}

test(`fuzz: ${COUNT} random and mutated messages through the page channel get clean errors; nothing crashes, leaks or is stored`, async ({
  context,
  openPage,
  server,
}) => {
  test.setTimeout(LONG ? 1_800_000 : 240_000);
  const victim = server.origin('a.test');
  const a = await openPage('a.test');
  const secrets = await a.evaluate(
    (c) => Promise.all([storeBytes(patternBytes(5000, 31)), storeBytes(patternBytes(6000, 32), { origins: [c] })]),
    server.origin('c.test'),
  );
  // The victim also has a write in flight whose session the attacker may guess at.
  await a.evaluate(async () => {
    window.inflight = await (await navigator.crossOriginStorage.getFileHandle(hashOf(await sha256Hex(patternBytes(7000, 33))), { create: true })).createWritable();
    await window.inflight.write(patternBytes(3000, 33));
  });
  const before = await storeState(context);
  const marker = `fuzz-${Date.now()}`;
  await inWorker(context, (m) => (globalThis.__fuzzMarker = m), marker);

  const b = await openPage('b.test');
  const pageErrors = [];
  b.on('pageerror', (e) => pageErrors.push(e.message));
  const tally = await b.evaluate(fuzz, { count: COUNT, seed: SEED, secrets, victim });
  // The writes it opened and knew of were aborted, with their temporary files.
  const afterAborts = await storeState(context);
  expect(tally.opened.filter((session) => session in afterAborts.tmp), 'aborted writables still have temporary files').toEqual([]);
  tally.handshakes = await b.evaluate(() => window.forgeHandshakes());
  console.log(
    `[fuzz] seed ${SEED}: ${tally.sent} tracked messages in ${(tally.ms / 1000).toFixed(1)} s (+${tally.untrackedSent} without an id, ${tally.handshakes} forged handshakes); ` +
      `timeouts ${tally.timeouts}, refused by postMessage ${tally.refusedByBrowser}, bad replies ${tally.badReplies.length}, disclosed ${tally.disclosed.length}, files ${tally.files}`,
  );
  console.log(`[fuzz] ok by op: ${JSON.stringify(tally.ok)}`);
  console.log(`[fuzz] errors: ${JSON.stringify(tally.errors)}`);
  console.log(`[fuzz] sent by kind: ${JSON.stringify(tally.byKind)}; refused for: ${JSON.stringify(tally.refusals)}`);

  expect(tally.sent).toBe(COUNT);
  expect(tally.timeouts, 'messages that got no answer').toBe(0);
  expect(tally.badReplies, 'replies that are not a clean error').toEqual([]);
  expect(tally.disclosed, 'successful reads or admin operations').toEqual([]);
  expect(tally.files, 'replies carrying a file').toBe(0);
  expect(tally.textNotRefused, 'text requests refused for anything but being text').toEqual([]);
  // The generator reached every refusal of the decoder, and past it (the schema, then the rules).
  for (const refusal of ['notObject', 'notPlain', 'tooDeep', 'tooMany', 'tooLong', 'schema', 'rule']) {
    expect(tally.refusals[refusal], `requests refused as ${refusal}`).toBeGreaterThan(COUNT / 200);
  }
  expect(pageErrors).toEqual([]);

  // The worker is the same instance (never crashed or restarted) and still works.
  expect(await inWorker(context, () => globalThis.__fuzzMarker)).toBe(marker);
  const after = await storeState(context);
  expect(after.entries, 'nothing was stored or dropped').toEqual(before.entries);
  expect(after.blobs).toEqual(before.blobs);
  for (const hex of secrets) expect(await b.evaluate((v) => outcome(() => readBack(v)), hex)).toMatchObject({ name: 'NotFoundError' });
  // Other origins were never affected; the attacker's own origin works again once its writables are aborted.
  const c = await openPage('c.test');
  const other = await c.evaluate(async () => readBack(await storeBytes(patternBytes(999, 35))));
  expect(other.size).toBe(999);
  const normal = await b.evaluate(async () => {
    const hex = await storeBytes(patternBytes(1234, 34), { origins: '*' });
    return { hex, read: await readBack(hex) };
  });
  expect(normal.read).toMatchObject({ size: 1234, hash: normal.hex });
  // The victim's own write was not disturbed and completes.
  const victimDone = await a.evaluate(async () => {
    await window.inflight.write(patternBytes(7000, 33).subarray(3000));
    await window.inflight.close();
    return readBack(await sha256Hex(patternBytes(7000, 33)));
  });
  expect(victimDone.size).toBe(7000);
  for (const hex of secrets) expect((await a.evaluate((v) => outcome(() => readBack(v)), hex)).ok?.hash).toBe(hex);
  const tmpFiles = (state) => Object.keys(state.tmp).filter((n) => !n.endsWith('.crswap')).length;
  // Any left after the aborts were opened by id-less messages whose replies the fuzzer could not match; they ended with its channel.
  console.log(
    `[fuzz] afterwards: ${after.entries.length} entries (unchanged); ${tally.aborted} writables aborted at the end; temporary files of open writes ` +
      `${tmpFiles(afterAborts)} after the aborts (the victim's and the fuzzer's from id-less messages), ${tmpFiles(after)} once the handshakes closed the fuzzer's channel`,
  );
});
