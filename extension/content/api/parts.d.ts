// The contract between the MAIN-world parts of the API (extension/content/api/*.js).
// Each part is one function that api.js runs in the window and api/workers.js
// copies, as source text, into every worker it starts.

/** Where a copy of the API runs. */
interface CrossOriginStorageSetup {
  /** `opaque`: a worker from a `data:` URL, whose origin is opaque: every call is refused. */
  kind: 'window' | 'dedicated' | 'shared' | 'opaque';
  /** A worker's own script URL, which its `location` and relative URLs must follow (not the bootstrap's blob: URL). */
  scriptURL?: string;
  /**
   * Whether the document has no Content-Security-Policy (a worker inherits its creator's). Only then do
   * workers get the API and declarative loads come from the store: script cannot read a policy, and
   * one that blocks the blob: URLs these use would break the page (api.js, api/workers.js).
   */
  cspFree: boolean;
}

/** One of this frame's page channels to the bridge, and a promise settled when it can no longer be answered. */
interface CrossOriginStorageChannel {
  port: MessagePort;
  gone: Promise<void>;
  /** The Web Lock its document holds while it lives, for a worker that uses the channel after its own creator (a shared worker's child). */
  lock?: string;
}

interface CrossOriginStorageHandleDescription {
  hash: { algorithm: string; value: string };
  create: boolean;
  origins: unknown;
  readable: boolean;
  origin?: string;
}

/** What the parts share: filled in by each part in order (core first). */
interface CrossOriginStorageEnv {
  setup: CrossOriginStorageSetup;
  /** Every part, in order, and the function that runs them: what a worker's bootstrap is made of. */
  parts: CrossOriginStoragePart[];
  install: CrossOriginStorageInstall;
  /** api/channels.js: opens a page channel of this frame (in a worker, through the document that created it). */
  newChannel(): CrossOriginStorageChannel | Promise<CrossOriginStorageChannel>;
  /** api/channels.js: the key of the boot message a creator sends a new worker. */
  BOOT: string;
  /** api/channels.js: settles once the context holding Web Lock `name` is gone. */
  lockReleased(name: string): Promise<void>;
  /** api/worker-scope.js: a URL resolved against the worker's real script URL (the identity in a window). */
  resolveURL(url: string): string;
  /** api/worker-scope.js: replaces the global interface `name` by a Proxy with this construct trap. */
  wrapInterface(name: string, construct: ProxyHandler<any>['construct']): void;
  /** api/fetch.js: the hex SHA-256 digest SRI metadata names, or null. */
  sha256OfIntegrity(integrity: string): string | null;
  /** api/core.js */
  getFileHandle(hash: unknown, options?: unknown): Promise<FileSystemFileHandle>;
  toOrigins(origins: unknown): unknown;
  reviveHandle(description: CrossOriginStorageHandleDescription): FileSystemFileHandle;
}

/** The global object of a window or of a worker (typed as a window's, with whatever else a worker has). */
type CrossOriginStorageScope = typeof globalThis & { [name: string]: any };

type CrossOriginStoragePart = (scope: CrossOriginStorageScope, env: CrossOriginStorageEnv) => void;
type CrossOriginStorageInstall = (parts: CrossOriginStoragePart[], scope: CrossOriginStorageScope, setup: CrossOriginStorageSetup) => void;

/** Handed from the part files to api.js at document_start, then deleted: no page script runs in between. */
declare var crossOriginStorageParts: CrossOriginStoragePart[] | undefined;

/** The proposed fetch() member (api/fetch.js): its presence opts in; '' is same-site. */
interface RequestInit {
  crossOriginStorage?: string | string[];
}
