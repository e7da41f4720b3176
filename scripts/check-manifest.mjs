// Checks the one authored manifest against what derives from or depends on
// it: every file it names exists after a build, and its version is the
// Cargo workspace version (the engine reports the same release).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { requiredFiles } from './lib/manifest-files.mjs';

const root = new URL('..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
const problems = [];

const named = requiredFiles(manifest);
for (const file of named) if (!existsSync(join(root, file))) problems.push(`missing ${file}`);

const cargoVersion = readFileSync(join(root, 'Cargo.toml'), 'utf8').match(/\[workspace\.package\][^[]*?version = "([^"]+)"/)?.[1];
if (cargoVersion !== manifest.version) problems.push(`manifest version ${manifest.version} != Cargo workspace ${cargoVersion}`);

if (problems.length) {
  console.error(`manifest check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
