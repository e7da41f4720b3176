// An in-memory stand-in for navigator.crossOriginStorage, used with no
// extension loaded: it stores by hash (verified at close) and reads back,
// as the API does, and nothing else. If a library fails with it as it fails
// with the extension, the failure is the library's.

const notFound = () => new DOMException('no file with this hash is available', 'NotFoundError');

async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function installStandIn(scope = globalThis) {
  const files = new Map();
  const handle = (value, create) => ({
    kind: 'file',
    name: value,
    async getFile() {
      if (!files.has(value)) throw notFound();
      return new File([files.get(value)], value);
    },
    async createWritable() {
      if (!create) throw new DOMException('this handle is read-only', 'NotAllowedError');
      const chunks = [];
      const writable = new WritableStream({
        write: (chunk) => void chunks.push(chunk instanceof Blob || typeof chunk === 'string' ? chunk : chunk.slice(0)),
        async close() {
          const blob = new Blob(chunks);
          if ((await sha256Hex(blob)) !== value) throw new DOMException('the bytes do not match the hash', 'DataError');
          files.set(value, blob);
        },
      });
      // FileSystemWritableFileStream's own write(), through a writer.
      writable.write = (data) => {
        const writer = writable.getWriter();
        const written = writer.write(data);
        writer.releaseLock();
        return written;
      };
      return writable;
    },
  });
  const getFileHandle = async ({ value }, options = {}) => {
    if (!options.create && !files.has(value)) throw notFound();
    return handle(value, Boolean(options.create));
  };
  const manager = { getFileHandle, requestFileHandle: getFileHandle };
  Object.defineProperty(scope.navigator, 'crossOriginStorage', { value: manager, configurable: true });
}
