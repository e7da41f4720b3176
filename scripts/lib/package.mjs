// The extension as it ships, zipped: manifest.json, every file under
// extension/ (its scripts, UI and the built extension/pkg/) except the type
// declarations that only scripts/lint reads, and each file the scripts name
// with chrome.runtime.getURL('<literal path>') (the popup links README.md).
// Derived from the manifest, a walk of extension/ and the scripts, so a new
// file ships without a list to update, and nothing else from the repository
// (node_modules/, target/, .cache/, tests/) can get in. The zip's root is the
// unpacked extension.
//
// Usage: node scripts/lib/package.mjs [out.zip]
//   default out: dist/cross-origin-storage-<manifest version>.zip
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { requiredFiles } from './manifest-files.mjs';

const SHIPPED_DIR = 'extension';
/** Never loaded by Chrome: wasm-bindgen's .d.ts files, for the type check only. */
const isDevOnly = (path) => path.endsWith('.d.ts');

function walk(root, dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return walk(root, path);
    if (!entry.isFile()) throw new Error(`${path}: neither a file nor a directory, cannot be packaged`);
    return [path];
  });
}

/** Extension-root paths that `source` opens with chrome.runtime.getURL and a string literal. */
const openedByUrl = (source) => [...source.matchAll(/getURL\(\s*(['"])([^'"]+)\1\s*\)/g)].map((m) => m[2]);

/** The paths (relative to `root`) that the package holds, sorted. Throws if one is missing. */
export function packageFiles(root) {
  const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
  const walked = walk(root, SHIPPED_DIR).filter((path) => !isDevOnly(path));
  const scripts = walked.filter((path) => path.endsWith('.js') && !path.startsWith(`${SHIPPED_DIR}/pkg/`));
  const linked = scripts.flatMap((path) => openedByUrl(readFileSync(join(root, path), 'utf8')));
  const files = [...new Set(['manifest.json', ...walked, ...linked])].sort();
  const missing = [...requiredFiles(manifest), ...linked].filter((path) => !existsSync(join(root, path)) || !files.includes(path));
  if (missing.length) throw new Error(`the package would lack ${[...new Set(missing)].join(', ')}: run scripts/build`);
  return files;
}

/** Writes the zip of `root`'s extension to `out` (replacing it); returns its file list. */
export function writePackage(root, out) {
  const files = packageFiles(root);
  mkdirSync(dirname(out), { recursive: true });
  rmSync(out, { force: true }); // zip would add to an existing archive
  // -X: no uid/gid or extended timestamps; -@: names from stdin, relative to root.
  execFileSync('zip', ['-X', '-q', out, '-@'], { cwd: root, input: files.join('\n') + '\n', stdio: ['pipe', 'inherit', 'inherit'] });
  return files;
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
  const { version } = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
  const out = resolve(process.argv[2] ?? join(root, 'dist', `cross-origin-storage-${version}.zip`));
  try {
    const files = writePackage(root, out);
    const kib = Math.round(statSync(out).size / 1024);
    const shown = relative(process.cwd(), out);
    console.log(`${shown.startsWith('..') ? out : shown}: ${files.length} files, ${kib} KiB`);
  } catch (e) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
}
