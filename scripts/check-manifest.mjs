// Checks the one authored manifest against what derives from or depends on
// it: every file it names exists after a build (and every content script
// the worker registers), its version is the Cargo workspace version (the
// engine reports the same release), and it declares no content scripts.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requiredFiles } from './lib/manifest-files.mjs';

const root = new URL('..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
const problems = [];

const named = requiredFiles(manifest);
for (const file of named) if (!existsSync(join(root, file))) problems.push(`missing ${file}`);

// Declared content scripts run on every site, the ones the user turned off included.
if (manifest.content_scripts) {
  problems.push('manifest.json declares content_scripts: register them in extension/worker/content-scripts.js (the per-site switch keeps them out of turned-off sites)');
}

const cargoVersion = readFileSync(join(root, 'Cargo.toml'), 'utf8').match(/\[workspace\.package\][^[]*?version = "([^"]+)"/)?.[1];
if (cargoVersion !== manifest.version) problems.push(`manifest version ${manifest.version} != Cargo workspace ${cargoVersion}`);

if (problems.length) {
  console.error(`manifest check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
