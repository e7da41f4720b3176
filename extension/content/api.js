// MAIN world, at document_start: installs navigator.crossOriginStorage in
// this window. The API is made of parts (extension/content/api/*.js), which
// the manifest runs just before this file; each adds its function to a
// global that is taken and deleted here, before any page script runs. The
// same parts, as source text, install the API in every worker the page
// starts (api/workers.js), so windows and workers share one implementation.
'use strict';

(() => {
  const parts = globalThis.crossOriginStorageParts;
  delete globalThis.crossOriginStorageParts;
  if (!parts || 'crossOriginStorage' in Navigator.prototype) return;

  /**
   * Runs every part on `scope`. A worker's bootstrap calls this same
   * function, copied as text, so it may use nothing but its arguments.
   * @type {CrossOriginStorageInstall}
   */
  function install(parts, scope, setup) {
    // [SecureContext]: an insecure page could have script injected by the network.
    if (!scope.isSecureContext) return;
    const env = /** @type {CrossOriginStorageEnv} */ ({ setup, parts, install });
    for (const part of parts) part(scope, env);
  }

  /**
   * Whether this document's response carried a Content-Security-Policy
   * header. Script cannot read headers, but Chromium hides an element's
   * nonce attribute once it is inserted into such a document (and only
   * then), which an element inserted and removed before any page script
   * runs reveals. Without a document element it cannot tell, and says yes.
   */
  function hasPolicyHeader() {
    const root = document.documentElement;
    if (!root) return true;
    const probe = document.createElement('span');
    probe.setAttribute('nonce', 'probe');
    root.appendChild(probe);
    const hidden = probe.getAttribute('nonce') === '';
    probe.remove();
    return hidden;
  }

  install(parts, globalThis, { kind: 'window', cspFree: !hasPolicyHeader() });
})();
