// What the worker puts on the wire itself. Every answer to a request comes
// from the engine's one error contract, except when the engine cannot
// answer at all: then this.

/** The name of the port each frame's content script opens (content/bridge.js uses the same). */
export const PORT_NAME = 'cross-origin-storage';
/** The port the DevTools panel (ui/panel.js) opens to watch a tab's calls. */
export const DEVTOOLS_PORT_NAME = 'cross-origin-storage:devtools';

/**
 * The reply when the extension failed outside the engine (a bug, or the Wasm
 * instance is gone): never a TypeError, which would blame the page's arguments.
 * @param {unknown} error
 */
export function transportError(error) {
  console.error('cross-origin storage: request failed inside the extension', error);
  return {
    ok: false,
    error: { name: 'UnknownError', code: 'internal', message: 'internal error in the extension; retry' },
  };
}
