// First-come-first-served locks by key, for the engine's `acquire` steps.
// The engine decides what needs a lock and when; this only queues.

/** @returns {{acquire(key: string): Promise<() => void>}} */
export function createLocks() {
  /** The promise each key's next holder waits for. */
  const tails = new Map();
  return {
    /** Resolves with the release function once every earlier holder of `key` released it. */
    acquire(key) {
      const previous = tails.get(key) ?? Promise.resolve();
      /** @type {() => void} */
      let release = () => {};
      const held = new Promise((resolve) => (release = /** @type {() => void} */ (resolve)));
      const tail = previous.then(() => held);
      tails.set(key, tail);
      return previous.then(() => () => {
        release();
        // The last holder leaves no entry behind: keys are per write session.
        if (tails.get(key) === tail) tails.delete(key);
      });
    },
  };
}
