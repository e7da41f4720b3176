// A test page's own service worker. It serves /from-sw.html itself, so the
// extension never sees that document's response (webRequest does not report
// responses a service worker made); `?frame=<url>` adds an iframe without `allow`.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.pathname !== '/from-sw.html') return;
  const frame = url.searchParams.get('frame');
  const body = `<!doctype html><meta charset="utf-8"><script src="/helpers.js"></script><p id="from-sw">served by a service worker</p>${
    frame ? `<iframe src="${frame.replaceAll('"', '&quot;')}"></iframe>` : ''
  }`;
  event.respondWith(new Response(body, { headers: { 'content-type': 'text/html; charset=utf-8' } }));
});
