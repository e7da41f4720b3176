// Checks the one authored manifest against what derives from or depends on
// it: every file it names exists after a build, and its version is the
// Cargo workspace version (the engine reports the same release).
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8'));
const problems = [];

const named = [
  manifest.background.service_worker,
  ...manifest.content_scripts.flatMap((c) => c.js),
  manifest.action?.default_popup,
  manifest.options_ui?.page,
  ...Object.values(manifest.icons ?? {}),
  'extension/pkg/cos_wasm.js',
  'extension/pkg/cos_wasm_bg.wasm',
  'extension/pkg/public_hash_list.txt',
  'extension/pkg/public_hash_list.txt.sha256',
].filter(Boolean);
for (const file of named) if (!existsSync(join(root, file))) problems.push(`missing ${file}`);

const cargoVersion = readFileSync(join(root, 'Cargo.toml'), 'utf8').match(/\[workspace\.package\][^[]*?version = "([^"]+)"/)?.[1];
if (cargoVersion !== manifest.version) problems.push(`manifest version ${manifest.version} != Cargo workspace ${cargoVersion}`);

if (problems.length) {
  console.error(`manifest check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
