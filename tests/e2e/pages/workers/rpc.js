// A classic worker that runs functions the test page sends it (see
// startWorker in ../helpers.js). Its relative importScripts() must resolve
// against this script's URL even when it runs under the extension's bootstrap.
importScripts('../helpers.js');
serveCalls(self);
