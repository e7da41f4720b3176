// The Public Hash Lists the scripts write: the bundled one (make-public-hash-list.mjs)
// and the local model hub's. Run: node --test scripts/lib/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHub } from '../hub/server.mjs';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const JQUERY_3_7_1 = 'fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a';
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The digests of each section, keyed by section name; fails on anything but the spec's layout. */
function sections(text) {
  const found = {};
  let open = null;
  for (const line of text.split('\n')) {
    const marker = /^\/\/ ===(BEGIN|END) (.+)===$/.exec(line);
    if (marker?.[1] === 'BEGIN') { assert.equal(open, null, line); open = marker[2]; found[open] ??= []; }
    else if (marker) { assert.equal(marker[2], open, line); open = null; }
    else if (!line.startsWith('//') && line) { assert.ok(open, `outside a section: ${line}`); assert.match(line, /^[0-9a-f]{64}$/); found[open].push(line); }
  }
  assert.equal(open, null, 'a section is left open');
  assert.deepEqual(Object.keys(found), ['SHA-256', 'SHA-256 HUGGING-FACE', 'SHA-256 MANUAL']);
  return found;
}

function checkSidecar(text, sidecarText, fileName) {
  assert.equal(sidecarText, `${sha256(text)}  ${fileName}\n`);
}

test('the bundled list: ORT binaries and jQuery 3.7.1 in the core section, a reproducible version, a sidecar', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const make = (out) => execFileSync('node', [path.join(REPO, 'scripts/lib/make-public-hash-list.mjs'), REPO, out]);
  const out = path.join(dir, 'public_hash_list.txt');
  make(out);
  const text = readFileSync(out, 'utf8');
  const { 'SHA-256': core, 'SHA-256 HUGGING-FACE': hf, 'SHA-256 MANUAL': manual } = sections(text);
  const ort = path.join(REPO, 'node_modules/onnxruntime-web/dist');
  const expected = [JQUERY_3_7_1, ...['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.jsep.mjs']
    .map((f) => sha256(readFileSync(path.join(ort, f))))];
  for (const hash of expected) assert.ok(core.includes(hash), hash);
  assert.equal(new Set(core).size, core.length, 'each digest once');
  assert.deepEqual([hf, manual], [[], []]);
  assert.match(text, /^\/\/ VERSION: bundled-1 \(onnxruntime-web@[^,]+, @huggingface\/transformers@[^,]+, jquery@3\.7\.1\)$/m);
  checkSidecar(text, readFileSync(`${out}.sha256`, 'utf8'), 'public_hash_list.txt');
  const again = path.join(dir, 'again.txt');
  make(again);
  assert.equal(readFileSync(again, 'utf8'), text, 'same inputs, same list');
});

test('the hub lists its large files and ORT binaries in the Hugging Face section, with a sidecar', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'phl-hub-'));
  const root = path.join(dir, 'hub'), ortDir = path.join(dir, 'ort/dist');
  const write = (file, bytes) => { mkdirSync(path.dirname(file), { recursive: true }); writeFileSync(file, bytes); return sha256(bytes); };
  const listed = [
    write(path.join(root, 'org/model/onnx/model.onnx'), 'a small onnx file is still an LFS file'),
    write(path.join(root, 'org/model/weights.bin'), Buffer.alloc(1024 * 1024 + 1, 7)),
    write(path.join(ortDir, 'ort-wasm-simd-threaded.wasm'), 'wasm'),
    write(path.join(ortDir, 'ort-wasm-simd-threaded.mjs'), 'glue'),
  ];
  const unlisted = [
    write(path.join(root, 'org/model/config.json'), '{}'),
    write(path.join(ortDir, 'ort.min.js'), 'bundle'),
  ];
  write(path.join(dir, 'ort/package.json'), JSON.stringify({ version: '9.9.9' }));
  const hub = await startHub({ root, ortDir });
  t.after(async () => { await hub.close(); rmSync(dir, { recursive: true, force: true }); });

  const get = async (p) => { const r = await fetch(hub.url + p); assert.equal(r.status, 200, p); return r.text(); };
  const text = await get('/public-hash-list/public_hash_list.txt');
  const { 'SHA-256': core, 'SHA-256 HUGGING-FACE': hf, 'SHA-256 MANUAL': manual } = sections(text);
  assert.deepEqual([core, manual], [[], []]);
  assert.deepEqual([...hf].sort(), [...listed].sort());
  for (const hash of unlisted) assert.ok(!text.includes(hash));
  assert.match(text, /^\/\/ onnxruntime-web@9\.9\.9\/dist\/ort-wasm-simd-threaded\.wasm$/m);
  assert.match(text, /^\/\/ org\/model\/onnx\/model\.onnx$/m);
  checkSidecar(text, await get('/public-hash-list/public_hash_list.txt.sha256'), 'public_hash_list.txt');

  // It follows the files: a changed model is listed anew, under a new version.
  const changed = write(path.join(root, 'org/model/onnx/model.onnx'), 'the same model, retrained');
  const after = await get('/public-hash-list/public_hash_list.txt');
  assert.ok(sections(after)['SHA-256 HUGGING-FACE'].includes(changed));
  assert.ok(!after.includes(listed[0]));
  const version = (s) => /^\/\/ VERSION: (.+)$/m.exec(s)[1];
  assert.notEqual(version(after), version(text));
});
