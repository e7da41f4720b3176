// MAIN world, part 4: where page channels come from (env.newChannel).
//
// Every channel is one of the creating frame's page channels to its bridge
// (content/bridge.js), so the extension sees a worker's requests as its
// frame's, with the frame's origin and Permissions Policy, by construction.
//
// - A window posts its bridge a connect message with a MessagePort.
// - A worker's bridge is its creating document's: the document (or the
//   worker that started this one) hands it a "spawner" port in a boot
//   message, and each channel is asked for through it (api/workers.js
//   serves it). A shared worker has a spawner per connected document and
//   uses the newest one still open.
// - A worker whose origin is opaque (a data: URL) has no channel: every
//   request is refused with NotAllowedError.
'use strict';

(globalThis.crossOriginStorageParts ??= []).push(function channels(scope, env) {
  'use strict';
  const { Promise, Map, MessageChannel, MessageEvent, DOMException, TypeError } = scope;
  const { kind } = env.setup;
  /** Never settles: a channel whose frame outlives its user. */
  const NEVER = new Promise(() => {});
  env.BOOT = 'cross-origin-storage:boot';
  const locks = scope.navigator.locks;
  /**
   * Settles once the document holding lock `name` is gone (the browser
   * releases a context's locks when it ends; MessagePorts say nothing).
   */
  env.lockReleased = (name) => new Promise((resolve) => locks.request(name, () => resolve()));

  if (kind === 'window') {
    const postToSelf = scope.postMessage.bind(scope);
    env.newChannel = () => {
      const { port1, port2 } = new MessageChannel();
      postToSelf({ type: 'cross-origin-storage:connect' }, '*', [port2]);
      return { port: port1, gone: NEVER };
    };
    return;
  }

  if (kind === 'opaque') {
    env.newChannel = () =>
      Promise.reject(new DOMException('a worker whose origin is opaque (a data: URL) cannot use cross-origin storage', 'NotAllowedError'));
    return;
  }

  /** Asks for channels through a spawner port; `fail` rejects what its document will never answer. */
  function spawnerClient(port) {
    let nextId = 0;
    const waiting = new Map();
    port.onmessage = ({ data, ports }) => {
      const settle = waiting.get(data?.id);
      if (!settle) return;
      waiting.delete(data.id);
      if (!ports[0]) return settle.reject(new DOMException(data.error?.message ?? 'no channel', data.error?.name ?? 'InvalidStateError'));
      settle.resolve({ port: ports[0], gone: data.lock ? env.lockReleased(data.lock) : NEVER, lock: data.lock });
    };
    return {
      open: () =>
        new Promise((resolve, reject) => {
          const id = ++nextId;
          waiting.set(id, { resolve, reject });
          port.postMessage({ open: id });
        }),
      fail() {
        for (const { reject } of waiting.values()) reject(new DOMException('the page that relayed this worker closed; retry', 'InvalidStateError'));
        waiting.clear();
      },
    };
  }

  if (kind === 'dedicated') {
    // The creator posts the boot message right after constructing the
    // worker, before the page can post anything; this listener is the first.
    let booted;
    const spawner = new Promise((resolve) => (booted = resolve));
    scope.addEventListener('message', function boot(event) {
      if (!event.isTrusted) return;
      scope.removeEventListener('message', boot);
      const port = event.ports[0];
      if (event.data?.[env.BOOT] !== true || !port) return;
      event.stopImmediatePropagation();
      booted(spawnerClient(port));
      port.postMessage({ booted: true });
    });
    env.newChannel = () => spawner.then((client) => client.open());
    return;
  }

  if (kind !== 'shared') throw new TypeError(`unknown kind of scope ${kind}`);
  // A shared worker: each connection's port is the extension's own (a
  // control port); the page's port travels inside the boot message, and the
  // worker's script sees a connect event with it once the boot arrived.
  /** @type {{client: ReturnType<typeof spawnerClient>, lock: string}[]} connected documents, newest last */
  const owners = [];
  /** Settled when the next document connects, for requests made before any did. */
  let arrival = null;
  scope.addEventListener('connect', (event) => {
    if (!event.isTrusted) return;
    event.stopImmediatePropagation();
    const control = /** @type {MessageEvent} */ (event).ports[0];
    control.onmessage = ({ data, ports }) => {
      if (data?.[env.BOOT] !== true || !ports[0] || typeof data.lock !== 'string') return;
      control.onmessage = null;
      const owner = { client: spawnerClient(control), lock: data.lock };
      owners.push(owner);
      arrival?.resolve();
      arrival = null;
      env.lockReleased(owner.lock).then(() => {
        owners.splice(owners.indexOf(owner), 1);
        owner.client.fail();
      });
      scope.dispatchEvent(new MessageEvent('connect', { data: '', ports: [ports[0]], source: ports[0] }));
      control.postMessage({ booted: true });
    };
    control.postMessage({ hello: true });
  });
  env.newChannel = async () => {
    while (!owners.length) await (arrival ??= Promise.withResolvers()).promise;
    const owner = owners.at(-1);
    const { port } = await owner.client.open();
    return { port, gone: env.lockReleased(owner.lock), lock: owner.lock };
  };
});
