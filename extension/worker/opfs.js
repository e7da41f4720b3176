// The extension's origin-private file system: committed files live in
// blobs/<sha256>, open writes in tmp/<session>. Nothing else is stored here.

const root = () => navigator.storage.getDirectory();
export const blobsDir = async () => (await root()).getDirectoryHandle('blobs', { create: true });
export const tmpDir = async () => (await root()).getDirectoryHandle('tmp', { create: true });

/** `[[name, size], …]` of the entries in `dir`; a directory's size is null. */
export async function listFiles(dir) {
  const files = [];
  for await (const [name, handle] of dir.entries()) {
    files.push([name, handle.kind === 'file' ? (await handle.getFile()).size : null]);
  }
  return files;
}

/** Removes an entry (a directory with its contents) if present; a missing one is not an error here. */
export async function removeQuietly(dir, name) {
  try {
    await dir.removeEntry(name, { recursive: true });
  } catch (e) {
    if (e.name !== 'NotFoundError') throw e;
  }
}

/** Empties tmp/: no write session survives a worker restart, so all of it is orphaned. */
export async function clearTmp() {
  await (await root()).removeEntry('tmp', { recursive: true }).catch((e) => {
    if (e.name !== 'NotFoundError') throw e;
  });
}
