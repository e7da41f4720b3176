// A classic shared worker that runs functions any connected page sends it,
// replying on that page's port (see startSharedWorker in ../helpers.js).
importScripts('../helpers.js');
let connections = 0;
self.onconnect = (event) => {
  connections++;
  serveCalls(event.ports[0]);
};
