// The probe budget's size from enterprise policy (`probeLookupsPerWindow` in
// extension/managed-schema.json): distinct hashes a site may look up between
// two user gestures. The engine decides what it accepts (probes.rs); this
// hands it the value, as last read at once and then as the browser has it.

import { onPolicyChange, readPolicy, rememberedPolicy } from './policy.js';

/** @typedef {import('../pkg/cos_wasm.js').Store} Store */

const POLICY = 'probeLookupsPerWindow';

/**
 * @param {Store} store
 * @param {unknown} value
 */
function apply(store, value) {
  const ignored = store.setProbeLimit(value);
  if (ignored) console.warn(`cross-origin storage: policy ${POLICY} ignored (the default applies): ${ignored}`);
}

/**
 * Applies the policy as last read before the store answers anyone; the
 * current value and later changes follow.
 * @param {Store} store
 */
export async function startProbePolicy(store) {
  apply(store, await rememberedPolicy(POLICY));
  readPolicy(POLICY).then((value) => apply(store, value));
  onPolicyChange(POLICY, (value) => apply(store, value));
}
