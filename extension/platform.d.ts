// Platform APIs Chromium ships that TypeScript's DOM library does not declare yet.

interface FileSystemHandle {
  /** Moves (and optionally renames) the entry: OPFS, Chromium 110+. */
  move(destination: FileSystemDirectoryHandle, name?: string): Promise<void>;
}
