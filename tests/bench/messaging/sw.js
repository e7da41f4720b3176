// The messaging bench's service worker: acknowledges each message of the
// content script's port (nothing else is done with the bytes), and opens the
// offscreen document on request.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== 'to-service-worker') return;
  port.onMessage.addListener((message) => port.postMessage({ ack: message.i }));
});

chrome.runtime.onMessage.addListener((message, _sender, reply) => {
  if (message !== 'open-document') return false;
  chrome.offscreen
    .hasDocument()
    .then((open) => open || chrome.offscreen.createDocument({ url: 'document.html', reasons: ['WORKERS'], justification: 'bench' }))
    .then(() => reply(true));
  return true;
});
