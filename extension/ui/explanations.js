// Why a call was answered as it was, in plain words, with what to do about
// it. The DevTools panel explains each call with `explain` (the specifics
// come from the engine's trace: cos-core `engine::step::Trace`); the
// explanations page (explanations.html, linked from the popup and the
// panel) lists every cause's general text from `CAUSES`. A page never sees
// any of this: it gets the same NotFoundError for every refusal.

/**
 * @typedef {import('../pkg/cos_wasm.js').Trace} Trace
 * @typedef {{ok: boolean, name?: string, code?: string, message?: string}} ReplySummary
 * @typedef {{id: string, title: string, why: string, fix: string}} Cause
 * @typedef {{id: string, title: string, why: string, fix: string, refused: boolean}} Explanation
 */

/** Every cause the panel can name, in the order the explanations page lists them. */
export const CAUSES = /** @type {const} */ ([
  {
    id: 'missing',
    title: 'Not stored',
    why: 'No file with this hash is stored in this browser.',
    fix: 'Download the file and store it (getFileHandle with {create: true}, then createWritable()). Check that the hash is the SHA-256 of the exact bytes.',
  },
  {
    id: 'out-of-scope',
    title: 'Hidden by its scope',
    why: 'The file is stored, but not for this origin: it was not shared with every site (origins: "*"), this origin is not among the origins it was shared with, and it is not of a site that stored it.',
    fix: 'Have the page that stores it list this origin in origins (and in its Cross-Origin-Storage-Allow-Origin response header), or store it with origins: "*" if the file is public.',
  },
  {
    id: 'not-on-public-list',
    title: 'Not on the Public Hash List',
    why: 'The file was shared with every site (origins: "*"), but its hash is not on the Public Hash List, so only the sites that stored it can read it: a file only one user has could otherwise recognise that user across sites.',
    fix: 'Add the hash on the settings page (Public Hash List, your own entries), or ask the list to include it if the file is public.',
  },
  {
    id: 'probe-budget',
    title: 'Probe budget spent',
    why: 'Each site may look up only so many distinct hashes (16 by default) between two user gestures, counted for the calling frame\'s site and for the top-level page\'s site: every lookup tells a site one bit about the user\'s other sites.',
    fix: 'A click or key press in a frame of the site replenishes its budget. Asking again for a hash already looked up costs nothing; files a site stored itself never cost anything.',
  },
  {
    id: 'grease',
    title: 'Refused on purpose (GREASE)',
    why: 'About 1 in 100 reads of small files (500 KiB or less) that a site may read only because they are shared with every site are refused on purpose, the same way until the next user gesture in the site, so that a miss never proves a file is absent.',
    fix: 'Handle it as a miss: download the file (and store it). Larger files are never refused this way; after a user gesture in the site the read is drawn again.',
  },
  {
    id: 'unreadable',
    title: 'Could not be read',
    why: 'The file is available to this origin, but the extension could not read it from its storage.',
    fix: 'Retry. If it keeps failing, delete the file in the extension\'s popup; the next site to download it stores it again.',
  },
  {
    id: 'permissions-policy',
    title: 'Blocked by Permissions Policy',
    why: 'The cross-origin-storage feature is off in this document: its own Permissions-Policy header, a frame above it, or the element holding it does not allow it. A frame of another origin needs its parent\'s <iframe allow="cross-origin-storage">.',
    fix: 'Add allow="cross-origin-storage" to the <iframe> that loads the frame, and make sure no Permissions-Policy header on the way (the page\'s or a parent\'s) leaves the origin out.',
  },
  {
    id: 'disabled-for-site',
    title: 'Turned off for this site',
    why: 'You (or an enterprise policy) turned Cross-Origin Storage off for this site in the extension. A page loaded before that keeps the API until it reloads, but every request is refused; after a reload the page has no navigator.crossOriginStorage at all.',
    fix: 'Turn it on again with the switch in the extension\'s popup or on the settings page (a site the policy turned off stays off), then reload the page.',
  },
  {
    id: 'allow-origin-ceiling',
    title: 'Origins left out by the Allow-Origin ceiling',
    why: 'A write can share a file only with origins the writing document\'s Cross-Origin-Storage-Allow-Origin response header names, so a script the site merely embeds cannot share more widely. Origins it does not name were left out; with none left, the file is kept for the storing site only.',
    fix: 'Send Cross-Origin-Storage-Allow-Origin with the page that writes, naming every origin it shares with (comma-separated), or share with every site using origins: "*".',
  },
  {
    id: 'quota',
    title: 'Over quota',
    why: 'Storing the file would exceed the space one origin may use (the storage budget, rounded down to a power of two), the number of files one site may store, or the disk space the browser grants the extension.',
    fix: 'Free space in the extension\'s popup, or raise the storage budget on the settings page.',
  },
  {
    id: 'integrity',
    title: 'Integrity check failed',
    why: 'The bytes written do not hash to the declared SHA-256; nothing was stored.',
    fix: 'Declare the hash of the exact bytes written: check the file\'s version, and that the bytes were not decompressed, re-encoded or cut short on the way.',
  },
  {
    id: 'invalid',
    title: 'Invalid request',
    why: 'The arguments were not valid (the error message says which).',
    fix: 'Fix the call as the message says.',
  },
  {
    id: 'other',
    title: 'Other error',
    why: 'The store could not complete the call (see the error message).',
    fix: 'Retry; the message says whether the call itself was wrong.',
  },
]);

const cause = (/** @type {string} */ id) => /** @type {Cause} */ (CAUSES.find((c) => c.id === id));

/** What the panel says about a refusal or a warning: the cause, with this call's specifics. */
const refusal = (/** @type {string} */ id, /** @type {string} */ why, /** @type {string} */ fix) => ({
  id,
  title: cause(id).title,
  why,
  fix,
  refused: true,
});

const bytes = (/** @type {number} */ n) => `${n.toLocaleString('en')} bytes`;

/**
 * Why a call was refused (or, for a successful write, what it left out), in
 * plain words with what to do; null when there is nothing to explain.
 * @param {{reply: ReplySummary, trace: Trace, origin: string}} call
 * @returns {Explanation | null}
 */
export function explain({ reply, trace, origin }) {
  if (trace.policy) return policy(trace.policy);
  if (trace.refusal) return lookup(trace, origin);
  if (trace.quota) return quota(trace.quota);
  if (reply.code === 'integrity-mismatch' && trace.actualHash) {
    return refusal('integrity', `The bytes written hash to ${trace.actualHash}, not to the declared ${trace.hash}; nothing was stored.`, cause('integrity').fix);
  }
  if (trace.ceiling) {
    const header = trace.ceiling.header === null ? 'has no Cross-Origin-Storage-Allow-Origin header' : `sends Cross-Origin-Storage-Allow-Origin: ${trace.ceiling.header}`;
    return {
      ...refusal('allow-origin-ceiling', `Not shared with ${trace.ceiling.dropped.join(', ')}: the writing document ${header}, which does not name ${trace.ceiling.dropped.length === 1 ? 'it' : 'them'}.`, `Send Cross-Origin-Storage-Allow-Origin: ${trace.ceiling.dropped.join(', ')} with the page that writes (alongside any origins it already names).`),
      refused: !reply.ok,
    };
  }
  if (reply.ok) return null;
  if (reply.code === 'disabled-for-site') return refusal('disabled-for-site', cause('disabled-for-site').why, cause('disabled-for-site').fix);
  if (reply.name === 'TypeError' || reply.name === 'NotSupportedError') return refusal('invalid', reply.message ?? '', cause('invalid').fix);
  return refusal('other', `${reply.name}: ${reply.message}`, cause('other').fix);
}

/**
 * @param {Trace} trace
 * @param {string} origin the caller's
 */
function lookup(trace, origin) {
  switch (trace.refusal) {
    case 'out-of-scope': {
      const listed = trace.listedOrigins
        ? `it was shared with ${trace.listedOrigins} other ${trace.listedOrigins === 1 ? 'origin' : 'origins'}`
        : 'it was stored for the storing sites only';
      return refusal('out-of-scope', `The file is stored, but not for ${origin}: ${listed}, not with every site.`, cause('out-of-scope').fix);
    }
    case 'probe-budget': {
      const { site, limit, noRoom } = /** @type {NonNullable<Trace['budget']>} */ (trace.budget);
      const why = noRoom
        ? `Probe budget spent: every site the extension keeps a budget for has spent it, so ${site} cannot get one.`
        : `Probe budget spent: ${site} has looked up ${limit} distinct hashes since the last user gesture in one of its frames.`;
      return refusal('probe-budget', why, `A click or key press in a frame of ${site} replenishes it. Asking again for a hash already looked up costs nothing.`);
    }
    default: {
      const id = /** @type {string} */ (trace.refusal);
      return refusal(id, cause(id).why, cause(id).fix);
    }
  }
}

/** @param {NonNullable<Trace['policy']>} blocked */
function policy({ frame, origin, parent, cause: what }) {
  const where = frame === 0 ? `the top-level document (${origin})` : `the frame of ${origin}`;
  const iframe = `<iframe> in ${parent} that loads ${origin}`;
  switch (what.kind) {
    case 'own-header':
      return refusal('permissions-policy', `Permissions Policy: the Permissions-Policy header of ${where} (${what.header}) turns cross-origin-storage off for it and every frame below it.`, `Remove cross-origin-storage from that header, or allow it: cross-origin-storage=(self).`);
    case 'parent-header':
      return refusal('permissions-policy', `Permissions Policy: the Permissions-Policy header of ${parent} (${what.header}) does not allow ${origin}.`, `Add "${origin}" to the cross-origin-storage allowlist in ${parent}'s Permissions-Policy header.`);
    case 'iframe-allow': {
      const attribute = what.allow === null ? 'lacks allow="cross-origin-storage"' : `has allow="${what.allow}", which does not let ${origin} in`;
      const moved = what.srcOrigin !== origin ? ` (its 'src' stands for ${what.srcOrigin}, the origin of its src attribute; the frame is now at ${origin})` : '';
      return refusal('permissions-policy', `Permissions Policy: the ${iframe} ${attribute}${moved}.`, `Add allow="cross-origin-storage" to the ${iframe} (or allow="cross-origin-storage ${origin}").`);
    }
    case 'other-container':
      return refusal('permissions-policy', `Permissions Policy: a <frame>, <object> or <embed> in ${parent} holds ${origin}; such elements cannot let another origin use the feature.`, `Load ${origin} in an <iframe allow="cross-origin-storage"> instead.`);
    case 'unknown-container':
      return refusal('permissions-policy', `Permissions Policy: the extension could not tell which element of ${parent} holds the frame of ${origin} (the parent may be about:blank, srcdoc or data:, or it navigated), so the frame is treated as not allowed.`, `Load the frame from a URL in an <iframe allow="cross-origin-storage"> of an http(s) page, and reload.`);
    default:
      return refusal('permissions-policy', 'Permissions Policy: the extension could not establish the chain of frames of this document, so it is treated as not allowed.', 'Reload the page.');
  }
}

/** @param {NonNullable<Trace['quota']>} why */
function quota(why) {
  switch (why.kind) {
    case 'origin':
      return refusal('quota', `Over quota: this origin's files and open writes use ${bytes(why.chargedBytes)}; with ${bytes(why.addingBytes)} more it would pass its limit of ${bytes(why.limitBytes)}.`, cause('quota').fix);
    case 'files':
      return refusal('quota', `Over quota: this site already stores ${why.stored} files, the most one site may store (${why.max}).`, 'Delete files of this site in the extension\'s popup.');
    default:
      return refusal('quota', 'Over quota: the browser refused the extension more disk space.', 'Free disk space, or lower the storage budget on the settings page so older files are removed first.');
  }
}

/**
 * What went well, in plain words (the grant that disclosed a file, what a
 * write found and left); empty when there is nothing to say.
 * @param {Trace} trace
 * @returns {string[]}
 */
export function notes(trace) {
  /** @type {string[]} */
  const out = [];
  const grants = { storer: 'this origin stored it', 'same-site': 'a site that stored it', listed: 'it was shared with this origin', global: 'it is shared with every site and on the Public Hash List' };
  if (trace.grant) out.push(`Disclosed: ${grants[trace.grant]}.`);
  if (trace.verified) out.push(`Verified: the bytes hash to the declared SHA-256; ${trace.alreadyStored ? 'the same bytes were stored already (not stored twice)' : 'stored'}.`);
  const after = trace.grantsAfter;
  if (after) {
    const scope = after.global ? 'every site (origins: "*")' : after.listed.length ? `its storers' sites and ${after.listed.join(', ')}` : "its storers' sites only";
    const list = after.global ? (after.onPublicList ? ', on the Public Hash List' : ', but not on the Public Hash List: other sites cannot read it yet') : '';
    out.push(`Now visible to ${scope}${list}; stored by ${after.storers} ${after.storers === 1 ? 'origin' : 'origins'}.`);
  }
  return out;
}
