// The one way the popup and the settings page talk to the store. The service
// worker routes messages from the extension's own pages to the engine's admin
// API; web pages cannot reach it (their messages go through the page tier).

/** Sends an admin request (`{op: ...}`); resolves to its value, rejects with the engine's error. */
export async function admin(request) {
  const reply = await chrome.runtime.sendMessage({ request });
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
