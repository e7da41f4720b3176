// Extension tier: the user's actions from the popup and settings pages
// (list, delete, settings). Only the extension's own pages reach this.

import { deleteStored, serialized } from './commit-queue.js';
import { saveChanges } from './persist.js';
import { errorReply } from './reply.js';

export function createExtensionTier(store) {
  /** Handles `{request: string}` from an extension page. */
  async function handle(message) {
    const request = typeof message?.request === 'string' ? message.request : '';
    try {
      return await serialized(async () => {
        const step = JSON.parse(store.adminRequest(request));
        if (step.do === 'delete-files') await deleteStored(store, step.hashes);
        await saveChanges(store.drainChanges());
        return { ok: true, value: step.value };
      });
    } catch (e) {
      return errorReply(e);
    }
  }
  return { handle };
}
