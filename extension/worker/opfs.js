// The extension's origin-private file system: committed files live in
// blobs/<sha256>, open writes in tmp/<session>. Nothing else is stored here.

const root = () => navigator.storage.getDirectory();
export const blobsDir = async () => (await root()).getDirectoryHandle('blobs', { create: true });
export const tmpDir = async () => (await root()).getDirectoryHandle('tmp', { create: true });

export async function listNames(dir) {
  const names = [];
  for await (const name of dir.keys()) names.push(name);
  return names;
}

/** Removes an entry if present; a missing file is not an error here. */
export async function removeQuietly(dir, name) {
  try {
    await dir.removeEntry(name);
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
