// Page tier: requests relayed from content scripts. The caller is the origin
// the browser reports for the sending frame; the request itself is hostile
// text that only the Wasm engine interprets. This module performs the I/O
// step the engine asks for, and nothing else.

import { blobsDir, tmpDir, removeQuietly } from './opfs.js';
import { saveChanges } from './persist.js';
import { deleteStored, serialized } from './commit-queue.js';
import { errorReply } from './reply.js';
import { Store } from '../pkg/cos_wasm.js';

/** Open temporary files by session id: `{handle, writable, writes}`; writable null once closed. */
const temps = new Map();
/** File writes of one session that may still be in progress while later requests are handled. */
const WRITES_AHEAD = 2;

export function createPageTier(store) {
  async function discardTemp(session) {
    const temp = temps.get(session);
    temps.delete(session);
    if (!temp) return;
    await temp.writable?.abort().catch(() => {});
    await removeQuietly(await tmpDir(), session);
  }

  async function closeTemp(session) {
    const temp = temps.get(session);
    if (temp.writable) {
      await temp.writable.close();
      temp.writable = null;
    }
    return temp.handle;
  }

  async function perform(step, caller, message, data) {
    switch (step.do) {
      case 'reply':
        return { ok: true, value: step.value };
      case 'read-file': {
        const handle = await (await blobsDir()).getFileHandle(step.hash).catch(() => null);
        const file = await handle?.getFile();
        if (file?.size === step.size) return { ok: true, value: { size: step.size }, file };
        // The index said yes but the bytes are gone or damaged on disk: never
        // serve them. The entry goes, and asking the engine again yields its
        // own NotFoundError, identical to any other.
        await serialized(() => store.discardDamaged(step.hash) && deleteStored(store, [step.hash]));
        return perform(nextStep(caller, message, data), caller, message, data);
      }
      case 'open-temp': {
        const handle = await (await tmpDir()).getFileHandle(step.session, { create: true });
        temps.set(step.session, { handle, writable: await handle.createWritable(), writes: [] });
        return { ok: true, value: { session: step.session } };
      }
      case 'write-data': {
        const temp = temps.get(step.session);
        if (data instanceof Blob) {
          await store.pumpBlob(caller, step.session, data, temp.writable, step.at);
          return { ok: true, value: {} };
        }
        // The file write proceeds while the next request is hashed; the
        // writable keeps writes in order, and a failed one errors it, so
        // close() reports it. At most WRITES_AHEAD are pending per session.
        const written = temp.writable.write({ type: 'write', position: step.at, data });
        written.catch(() => {});
        store.feed(caller, step.session, new Uint8Array(data), Date.now());
        temp.writes.push(written);
        while (temp.writes.length > WRITES_AHEAD) await temp.writes.shift();
        return { ok: true, value: {} };
      }
      case 'truncate':
        await temps.get(step.session).writable.truncate(step.size);
        return { ok: true, value: {} };
      case 'full-hash': {
        const file = await (await closeTemp(step.session)).getFile();
        await store.pumpBlob(caller, step.session, file, undefined, 0);
        return perform(nextStep(caller, message, data), caller, message, data);
      }
      case 'commit':
        return serialized(async () => {
          const handle = await closeTemp(step.session);
          const { alreadyStored, evict } = JSON.parse(store.prepareCommit(caller, step.session, Date.now()));
          if (evict.length) await deleteStored(store, evict);
          if (alreadyStored) await removeQuietly(await tmpDir(), step.session);
          else await handle.move(await blobsDir(), step.hash);
          temps.delete(step.session);
          const value = JSON.parse(store.commit(caller, step.session, Date.now()));
          // Acknowledged only once durable.
          await saveChanges(store.drainChanges());
          return { ok: true, value };
        });
      case 'discard':
        await discardTemp(step.session);
        return { ok: true, value: {} };
      default:
        throw new Error(`unknown step ${step.do}`);
    }
  }

  const sizeOf = (data) => data?.size ?? data?.byteLength;
  const nextStep = (caller, message, data) =>
    JSON.parse(store.pageRequest(caller, message.request, sizeOf(data), Date.now()));

  /** Tails of the per-session request chains: a session's requests run in arrival order. */
  const sessionQueues = new Map();

  /** Runs `task` after every earlier request of `session`. */
  function queued(session, task) {
    const current = (sessionQueues.get(session) ?? Promise.resolve()).then(task);
    sessionQueues.set(session, current);
    current.finally(() => sessionQueues.get(session) === current && sessionQueues.delete(session));
    return current;
  }

  /** Write sessions by the port (frame) that opened them, and the ports already closed. */
  const sessionsOf = new Map();
  const released = new WeakSet();

  /**
   * Handles one relayed message `{request: string, data?: Blob | ArrayBuffer}`
   * from `caller`, arriving on port `owner`. Requests of one write session
   * run one after another, in the order they arrived (a page pipelines its
   * writes); others run at once.
   */
  function handle(message, caller, owner) {
    // Only these two fields are read; their validation is the engine's.
    const request = typeof message?.request === 'string' ? message.request : '';
    const data = message?.data instanceof Blob || message?.data instanceof ArrayBuffer ? message.data : undefined;
    const session = Store.sessionOf(request);
    if (!session) return run({ request }, data, caller, owner);
    return queued(session, () => run({ request }, data, caller, owner, session));
  }

  /** Ends the write sessions `owner` opened and has not finished, with their temporary files. */
  function release(owner) {
    released.add(owner);
    for (const session of sessionsOf.get(owner) ?? []) abandon(session);
    sessionsOf.delete(owner);
  }

  function own(owner, session) {
    // The frame left while its write was being opened.
    if (released.has(owner)) return abandon(session);
    const sessions = sessionsOf.get(owner) ?? new Set();
    // Forget the finished ones, so a long-lived frame's set stays small.
    for (const old of sessions) if (!store.hasSession(old)) sessions.delete(old);
    sessionsOf.set(owner, sessions.add(session));
  }

  function abandon(session) {
    queued(session, async () => {
      if (!store.hasSession(session)) return;
      store.dropSession(session);
      await discardTemp(session);
    });
  }

  async function run(normalized, data, caller, owner, session) {
    let step;
    try {
      step = nextStep(caller, normalized, data);
      const reply = await perform(step, caller, normalized, data);
      if (step.do === 'open-temp') own(owner, step.session);
      await saveChanges(store.drainChanges());
      return reply;
    } catch (e) {
      // A failed step ends its session: the engine already forgot it when it
      // refused the step, or forgets it now after an I/O failure. Its
      // temporary file goes with it. (A request naming someone else's session
      // fails without ending it.)
      const ended = step?.session ?? (session && !store.hasSession(session) ? session : null);
      if (ended) {
        store.dropSession(ended);
        await discardTemp(ended).catch(() => {});
      }
      return errorReply(e);
    }
  }

  /** Drops sessions idle for too long, with their temporary files. */
  async function expireIdle() {
    for (const session of JSON.parse(store.expireIdle(Date.now()))) await discardTemp(session);
  }

  return { handle, release, expireIdle };
}
