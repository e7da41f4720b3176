// The one way the popup and the settings page talk to the store. The service
// worker routes messages from the extension's own pages to the engine's admin
// API, or to the Public Hash List's; web pages cannot reach either (their
// messages go through the page tier).

/** Sends an admin request (`{op: ...}`); resolves to its value, rejects with the engine's error. */
export const admin = (request) => send({ request });

/** Sends a Public Hash List request (see worker/public-list.js); resolves to the list's status. */
export const publicList = (request) => send({ publicList: request });

async function send(message) {
  const reply = await chrome.runtime.sendMessage(message);
  if (reply?.ok) return reply.value;
  const error = new Error(reply?.error?.message ?? 'the extension did not answer');
  error.name = reply?.error?.name ?? 'Error';
  throw error;
}

/**
 * Calls `render` whenever the store changes (a page stored or read a file,
 * the other extension page changed something): the worker announces every
 * change it made durable (coalesced there).
 * @param {() => void} render
 */
export function onStoreChange(render) {
  chrome.runtime.onMessage.addListener((message) => {
    if (message?.storeChanged === true) render();
  });
}
