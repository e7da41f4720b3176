// The one reply shape sent back to pages and extension pages.

/** `{ok: false, error: {name, code, message}}` from an engine error or a DOMException. */
export const errorReply = (e) => ({
  ok: false,
  error: { name: e?.name || 'UnknownError', code: e?.code || 'io-error', message: String(e?.message ?? e) },
});
