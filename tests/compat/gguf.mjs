// A tiny llama-architecture model in GGUF (version 3), written from scratch
// with random weights: enough for llama.cpp (wllama) to load it, tokenize
// and generate tokens, so the compatibility matrix needs no model download.
// Deterministic: the same bytes every time, so its SHA-256 is stable.
//
// GGUF layout: "GGUF", version, tensor and key/value counts, the key/values,
// the tensor infos (name, dims, type, offset), padding to the alignment,
// then each tensor's data at its offset (every offset aligned).

const ALIGNMENT = 32;
/** GGUF value types. */
const T = { UINT32: 4, INT32: 5, FLOAT32: 6, STRING: 8, ARRAY: 9 };
const GGML_F32 = 0;
/** llama.cpp's token types: normal, unknown, control, byte. */
const TOKEN = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, BYTE: 6 };

/** Hyperparameters: 3.6 MB of f32 weights (above the hub's 1 MiB "LFS" size, so the Hub API gives its hash). */
export const TINY_LLAMA = { vocab: 512, embd: 256, ff: 512, heads: 4, layers: 1, context: 256 };

class Writer {
  chunks = [];
  length = 0;
  push(bytes) {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }
  u32(v) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s) {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  pad() {
    this.push(Buffer.alloc((ALIGNMENT - (this.length % ALIGNMENT)) % ALIGNMENT));
  }
  /** One key/value: `type` a GGUF value type, or [T.ARRAY, element type] with an array value. */
  kv(key, type, value) {
    this.string(key);
    const [outer, inner] = Array.isArray(type) ? type : [type];
    this.u32(outer);
    if (outer === T.ARRAY) {
      this.u32(inner);
      this.u64(value.length);
      for (const v of value) this.scalar(inner, v);
    } else {
      this.scalar(outer, value);
    }
  }
  scalar(type, v) {
    if (type === T.STRING) return this.string(v);
    const b = Buffer.alloc(4);
    if (type === T.UINT32) b.writeUInt32LE(v);
    else if (type === T.INT32) b.writeInt32LE(v);
    else if (type === T.FLOAT32) b.writeFloatLE(v);
    else throw new Error(`unsupported GGUF type ${type}`);
    this.push(b);
  }
}

/** SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then word pieces. */
function vocabulary(size) {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [TOKEN.UNKNOWN, TOKEN.CONTROL, TOKEN.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN.BYTE);
  }
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const pieces = ['▁', ...letters, ...[...letters].map((l) => `▁${l}`)];
  for (const a of letters) for (const b of letters) pieces.push(`${a}${b}`);
  for (const piece of pieces) {
    if (tokens.length === size) break;
    tokens.push(piece);
    types.push(TOKEN.NORMAL);
  }
  // Longer pieces score higher, as SentencePiece's would; byte and special tokens lowest.
  const scores = tokens.map((t, i) => (types[i] === TOKEN.NORMAL ? -i / size : -1000));
  return { tokens, types, scores };
}

/** xorshift32: deterministic weights in [-0.05, 0.05). */
function weights(count, seed) {
  const out = new Float32Array(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = ((x >>> 0) / 2 ** 32 - 0.5) * 0.1;
  }
  return out;
}

/**
 * The output projection: random rows for word pieces, zero rows (logit 0)
 * for special and byte tokens, so that greedy sampling, which takes the
 * largest logit, picks a word piece (some of hundreds of random logits is
 * above 0): generated text is then valid UTF-8, which wllama requires.
 */
function outputWeights(embd, types) {
  const out = weights(embd * types.length, 2);
  types.forEach((type, token) => type !== TOKEN.NORMAL && out.fill(0, token * embd, (token + 1) * embd));
  return out;
}

/** The GGUF file's bytes for `params` (TINY_LLAMA by default). */
export function tinyLlamaGguf(params = TINY_LLAMA) {
  const { vocab, embd, ff, heads, layers, context } = params;
  const { tokens, types, scores } = vocabulary(vocab);
  if (tokens.length !== vocab) throw new Error(`a vocabulary of ${vocab} needs more pieces`);
  const ones = (n) => new Float32Array(n).fill(1);
  /** [name, dims (GGUF order: the fastest-varying first), data]. */
  const tensors = [
    ['token_embd.weight', [embd, vocab], weights(embd * vocab, 1)],
    ['output_norm.weight', [embd], ones(embd)],
    ['output.weight', [embd, vocab], outputWeights(embd, types)],
  ];
  for (let l = 0; l < layers; l++) {
    const seed = 100 * (l + 1);
    tensors.push(
      [`blk.${l}.attn_norm.weight`, [embd], ones(embd)],
      [`blk.${l}.attn_q.weight`, [embd, embd], weights(embd * embd, seed + 1)],
      [`blk.${l}.attn_k.weight`, [embd, embd], weights(embd * embd, seed + 2)],
      [`blk.${l}.attn_v.weight`, [embd, embd], weights(embd * embd, seed + 3)],
      [`blk.${l}.attn_output.weight`, [embd, embd], weights(embd * embd, seed + 4)],
      [`blk.${l}.ffn_norm.weight`, [embd], ones(embd)],
      [`blk.${l}.ffn_gate.weight`, [embd, ff], weights(embd * ff, seed + 5)],
      [`blk.${l}.ffn_up.weight`, [embd, ff], weights(embd * ff, seed + 6)],
      [`blk.${l}.ffn_down.weight`, [ff, embd], weights(ff * embd, seed + 7)],
    );
  }
  const w = new Writer();
  w.push(Buffer.from('GGUF', 'ascii'));
  w.u32(3);
  w.u64(tensors.length);
  const kvs = [
    ['general.architecture', T.STRING, 'llama'],
    ['general.name', T.STRING, 'cos-compat-tiny-llama'],
    ['general.alignment', T.UINT32, ALIGNMENT],
    ['llama.context_length', T.UINT32, context],
    ['llama.embedding_length', T.UINT32, embd],
    ['llama.block_count', T.UINT32, layers],
    ['llama.feed_forward_length', T.UINT32, ff],
    ['llama.attention.head_count', T.UINT32, heads],
    ['llama.attention.head_count_kv', T.UINT32, heads],
    ['llama.attention.layer_norm_rms_epsilon', T.FLOAT32, 1e-5],
    ['llama.rope.dimension_count', T.UINT32, embd / heads],
    ['tokenizer.ggml.model', T.STRING, 'llama'],
    ['tokenizer.ggml.tokens', [T.ARRAY, T.STRING], tokens],
    ['tokenizer.ggml.scores', [T.ARRAY, T.FLOAT32], scores],
    ['tokenizer.ggml.token_type', [T.ARRAY, T.INT32], types],
    ['tokenizer.ggml.bos_token_id', T.UINT32, 1],
    ['tokenizer.ggml.eos_token_id', T.UINT32, 2],
    ['tokenizer.ggml.unknown_token_id', T.UINT32, 0],
  ];
  w.u64(kvs.length);
  for (const [key, type, value] of kvs) w.kv(key, type, value);
  let offset = 0;
  for (const [name, dims, data] of tensors) {
    w.string(name);
    w.u32(dims.length);
    for (const d of dims) w.u64(d);
    w.u32(GGML_F32);
    w.u64(offset);
    offset += Math.ceil(data.byteLength / ALIGNMENT) * ALIGNMENT;
  }
  w.pad();
  for (const [, , data] of tensors) {
    w.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    w.pad();
  }
  return Buffer.concat(w.chunks);
}
