// Writes Public Hash Lists in the spec's format (PSL-like: `//` comments,
// `// VERSION:`, sections of one lowercase SHA-256 hex digest per line) and
// their `.sha256` sidecars. Shared by the list the build bundles
// (make-public-hash-list.mjs) and the list the local model hub serves.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Section keys to the names in their `// ===BEGIN <name>===` markers, in the spec's order. */
export const SECTIONS = { core: 'SHA-256', huggingFace: 'SHA-256 HUGGING-FACE', manual: 'SHA-256 MANUAL' };

/** The ONNX Runtime Web files Transformers.js loads (and stores through COS): Wasm binaries and their .mjs glue. */
export const ORT_BINARY = /^ort-wasm.*\.(wasm|mjs)$/;

/** SHA-256 hex of a file, streamed (the ORT binaries are ~15-30 MB each). */
export function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file).on('data', (c) => hash.update(c)).on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * The list's text. `header`: comment lines (without `//`); `version`: the
 * `// VERSION:` value; `sections`: {core, huggingFace, manual}, each a list of
 * {hash, source}. Every section is written, empty or not. A digest listed for
 * several sources is written once, after one comment line per source.
 */
export function formatPublicHashList({ header, version, sections }) {
  const lines = [...header.map((h) => `// ${h}`), `// VERSION: ${version}`];
  for (const [key, name] of Object.entries(SECTIONS)) {
    const sources = new Map(); // hash -> [source], in first-seen order
    for (const { hash, source } of sections[key] ?? []) {
      if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`not a SHA-256 hex digest: ${hash} (${source})`);
      sources.set(hash, [...(sources.get(hash) ?? []), source]);
    }
    lines.push(`// ===BEGIN ${name}===`);
    for (const [hash, from] of sources) lines.push(...from.map((s) => `// ${s}`), hash);
    lines.push(`// ===END ${name}===`);
  }
  return `${lines.join('\n')}\n`;
}

/** The `.sha256` sidecar of `text`, as sha256sum writes it for a file named `fileName`. */
export function sidecar(text, fileName) {
  return `${createHash('sha256').update(text).digest('hex')}  ${fileName}\n`;
}
