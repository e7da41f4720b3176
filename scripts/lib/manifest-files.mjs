// The files the extension cannot start without: those manifest.json names,
// the content scripts the worker registers (extension/worker/content-scripts.js),
// the offscreen document it opens (extension/worker/copier.js)
// and those scripts/build writes into extension/pkg/ for the service worker.
// Shared by scripts/check-manifest.mjs (after a build) and
// scripts/lib/package.mjs (before zipping).
import { CONTENT_SCRIPTS } from '../../extension/worker/content-scripts.js';
import { COPIER_DOCUMENT } from '../../extension/worker/copier.js';

export const BUILT_FILES = [
  'extension/pkg/cos_wasm.js',
  'extension/pkg/cos_wasm_bg.wasm',
  'extension/pkg/public_hash_list.txt',
  'extension/pkg/public_hash_list.txt.sha256',
];

/** Paths relative to the extension root, as `manifest` and the registrations name them, then the built files. */
export function requiredFiles(manifest) {
  return [
    manifest.background.service_worker,
    ...CONTENT_SCRIPTS.flatMap((c) => c.js),
    COPIER_DOCUMENT,
    manifest.action?.default_popup,
    manifest.options_ui?.page,
    manifest.devtools_page,
    manifest.storage?.managed_schema,
    ...Object.values(manifest.icons ?? {}),
    ...BUILT_FILES,
  ].filter(Boolean);
}
