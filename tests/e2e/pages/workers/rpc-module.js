// A module worker that runs functions the test page sends it (see
// startWorker in ../helpers.js). helpers.js is a classic script: its text is
// fetched (by a relative URL, resolved against this module's URL) and
// evaluated globally.
(0, eval)(await (await fetch('../helpers.js')).text());
serveCalls(self);
