// A page's own service worker (the kind the extension cannot reach: content
// scripts never run in service workers). Asked by its page, it reports what
// it has and tries to borrow the page's channel to the extension.
self.addEventListener('message', async (event) => {
  const report = { api: 'crossOriginStorage' in navigator, manager: typeof self.CrossOriginStorageManager };
  // fetch() with the member is an ordinary fetch here: a 404 with integrity fails as one.
  try {
    await fetch('/missing-in-sw', { integrity: `sha256-${'A'.repeat(43)}=`, crossOriginStorage: '*' });
    report.fetch = 'resolved';
  } catch (e) {
    report.fetch = e.name;
  }
  // The connect message a page posts to its own window, sent to the page
  // from here: it arrives at navigator.serviceWorker, not at the window the
  // bridge listens to, so nobody relays it.
  const { port1, port2 } = new MessageChannel();
  event.source.postMessage({ type: 'cross-origin-storage:connect' }, [port2]);
  port1.postMessage({ id: 1, request: { op: 'open', hash: { algorithm: 'SHA-256', value: '0'.repeat(64) }, create: false } });
  report.channel = await new Promise((resolve) => {
    port1.onmessage = ({ data }) => resolve(data);
    setTimeout(() => resolve('no reply'), 2000);
  });
  event.source.postMessage({ report });
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
