// Performs `copy-blob` steps through the offscreen document
// extension/offscreen/copier.html (see there): it reads the Blob once, writes
// it into tmp/<session> and hashes the same buffers on a second thread,
// which the service worker's one thread cannot match (README, Performance).
// The document exists while copies are in progress. If it closes or crashes
// mid-copy, that step fails like any other: the engine ends the session and
// discards its temporary file; nothing was placed.

export const COPIER_DOCUMENT = 'extension/offscreen/copier.html';

/**
 * Blobs from this size on are copied by the document; smaller ones cost
 * less than starting it, and are copied and hashed at close as before.
 */
export const COPY_FROM_BYTES = 64 << 20;

/** Opening and closing the document, one after the other. */
let lifecycle = Promise.resolve();
let inProgress = 0;

/** @param {() => Promise<void>} change */
function queued(change) {
  lifecycle = lifecycle.then(change, change);
  return lifecycle;
}

async function ensureOpen() {
  if (await chrome.offscreen.hasDocument()) return;
  await chrome.offscreen.createDocument({
    url: COPIER_DOCUMENT,
    reasons: [chrome.offscreen.Reason.WORKERS],
    justification: 'writes large files into the extension storage and hashes them on two threads',
  });
}

/** Closes the document unless a copy started meanwhile. */
async function closeIfIdle() {
  if (inProgress === 0 && (await chrome.offscreen.hasDocument())) await chrome.offscreen.closeDocument();
}

/**
 * Copies `blob` into tmp/`session`: the digest of the bytes written and their first bytes.
 * @param {string} session
 * @param {Blob} blob
 * @returns {Promise<{sha256: string, head: number[]}>}
 */
export async function copyBlob(session, blob) {
  inProgress++;
  try {
    await queued(ensureOpen);
    const answer = await chrome.runtime.sendMessage({ copier: 'copy', session, blob });
    if (!answer?.ok) throw new DOMException(answer?.message ?? 'the copier did not answer', answer?.name ?? 'UnknownError');
    return { sha256: answer.sha256, head: answer.head };
  } finally {
    if (--inProgress === 0) queued(closeIfIdle).catch(() => {});
  }
}

/**
 * Stops the copy into tmp/`session`, if one is in progress (its frame went
 * away): it ends with an AbortError once its file is closed.
 * @param {string} session
 */
export function cancelCopy(session) {
  chrome.runtime.sendMessage({ copier: 'cancel', session }).catch(() => {});
}

/** At the worker's start: a document left by the previous instance holds no file open any more. */
export function closeLeftoverCopier() {
  return queued(closeIfIdle).catch(() => {});
}
