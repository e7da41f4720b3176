// A synthetic Public Hash List the size of the upstream one (~450k digests),
// for the list benchmarks (phl.mjs: the loader alone; phl-refresh.mjs: a
// refresh in the extension's worker).
import { createHash } from 'node:crypto';

export const DIGESTS = 450_000;
const HUGGING_FACE = 10_000;
const MANUAL = 100;

/** The spec's format: comments, core / Hugging Face / manual sections, a comment every 1,000 digests. */
export function syntheticList() {
  const lines = ['// Synthetic Public Hash List (tests/bench/synthetic-list.mjs)', '// VERSION: bench'];
  const sections = [
    ['SHA-256', 0, DIGESTS - HUGGING_FACE - MANUAL],
    ['SHA-256 HUGGING-FACE', DIGESTS - HUGGING_FACE - MANUAL, DIGESTS - MANUAL],
    ['SHA-256 MANUAL', DIGESTS - MANUAL, DIGESTS],
  ];
  for (const [name, from, to] of sections) {
    lines.push(`// ===BEGIN ${name}===`);
    for (let i = from; i < to; i++) {
      if (i % 1000 === 0) lines.push(`// digests ${i}..`);
      lines.push(createHash('sha256').update(String(i)).digest('hex'));
    }
    lines.push(`// ===END ${name}===`);
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}
