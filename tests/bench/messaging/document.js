// The messaging bench's offscreen document: acknowledges each message of a
// content script's port, like the service worker does.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== 'to-document') return;
  port.onMessage.addListener((message) => port.postMessage({ ack: message.i }));
});
