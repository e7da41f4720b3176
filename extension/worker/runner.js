// Runs the engine's tasks. The engine returns a task's next storage step;
// this performs it (through `perform`), reports the outcome and asks for the
// next, until the task is done. It knows nothing about which step follows
// which: the order, and every durability rule, is the engine's.

import { createLocks } from './locks.js';

/** @typedef {import('../pkg/cos_wasm.js').Store} Store */
/** @typedef {import('../pkg/cos_wasm.js').Step} Step */
/** @typedef {import('../pkg/cos_wasm.js').Outcome} Outcome */
/** @typedef {import('../pkg/cos_wasm.js').Reply} Reply */
/** @typedef {import('../pkg/cos_wasm.js').Trace} Trace */
/**
 * What a task's steps share: the data that came with its request, and the
 * file a `read-blob` step opened (sent along with the reply).
 * @typedef {{data?: Blob | ArrayBuffer, file?: File}} TaskContext
 */
/** @typedef {(step: Step, context: TaskContext) => Promise<Outcome | void>} Perform */

/** @type {Outcome} */
const DONE = { kind: 'done' };

/**
 * @param {Store} store
 * @param {Perform} perform
 */
export function createRunner(store, perform) {
  const locks = createLocks();

  /**
   * Drives the task whose first step is `step` to its end.
   * @param {Step} step
   * @param {TaskContext} [context]
   * @returns {Promise<{reply: Reply | null, trace: Trace, context: TaskContext}>}
   */
  async function run(step, context = {}) {
    /** @type {Array<() => void>} */
    const held = [];
    try {
      while (step.do !== 'done') {
        /** @type {Outcome} */
        let outcome = DONE;
        try {
          if (step.do === 'acquire') held.push(await locks.acquire(step.lock));
          else outcome = /** @type {Outcome | undefined} */ (await perform(step, context)) ?? DONE;
        } catch (e) {
          // The engine decides what a failure means; the platform's message is not passed on.
          outcome = { kind: 'failed', name: /** @type {Error} */ (e)?.name || 'Error' };
        }
        step = store.resume(step.task, outcome, Date.now());
      }
      return { reply: step.reply, trace: step.trace, context };
    } finally {
      for (const release of held) release();
    }
  }

  return { run };
}
