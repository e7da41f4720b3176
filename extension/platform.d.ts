// Platform APIs Chromium ships that TypeScript's DOM library does not declare yet.

interface FileSystemHandle {
  /** Moves (and optionally renames) the entry: OPFS, Chromium 110+. */
  move(destination: FileSystemDirectoryHandle, name?: string): Promise<void>;
}

/** A dedicated worker's exclusive, synchronous access to an OPFS file (the offscreen copier's). */
interface FileSystemSyncAccessHandle {
  read(buffer: ArrayBufferView | ArrayBuffer, options?: { at?: number }): number;
  write(buffer: ArrayBufferView | ArrayBuffer, options?: { at?: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

interface FileSystemFileHandle {
  /** Dedicated workers only. */
  createSyncAccessHandle(): Promise<FileSystemSyncAccessHandle>;
}
