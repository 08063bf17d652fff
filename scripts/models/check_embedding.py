"""Smoke test of an installed sentence-embedding model directory (model.onnx + tokenizer.json),
run at the end of `scripts/setup.sh mpnet` so that a broken conversion fails the install.

Embeds two paraphrases and an unrelated sentence the way mnemo does (attention-masked mean of
last_hidden_state, L2-normalised) and checks that the paraphrases are close (cosine > 0.6) and
clearly closer than the unrelated pair. Exits non-zero otherwise.

usage: check_embedding.py MODEL_DIR [DIMENSION]
"""

import sys

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SENTENCES = ["I play the cello", "The cello is my instrument", "The train to Lisbon leaves at noon"]
MIN_PARAPHRASE_COSINE = 0.6
MIN_MARGIN = 0.2


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    model_dir = sys.argv[1]
    dimension = int(sys.argv[2]) if len(sys.argv) == 3 else None

    tokenizer = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    encodings = tokenizer.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in encodings], np.int64)
    mask = np.array([e.attention_mask for e in encodings], np.int64)

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(f"{model_dir}/model.onnx", options, providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": mask}
    if any(i.name == "token_type_ids" for i in session.get_inputs()):
        feed["token_type_ids"] = np.zeros_like(ids)
    hidden = session.run(["last_hidden_state"], feed)[0]

    summed = (hidden * mask[..., None]).sum(axis=1)
    emb = summed / mask.sum(axis=1, keepdims=True)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)

    failures = []
    if not np.isfinite(emb).all():
        failures.append("embeddings are not finite")
    if dimension is not None and emb.shape[1] != dimension:
        failures.append(f"dimension {emb.shape[1]}, expected {dimension}")
    related, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    print(f"check_embedding: cos({SENTENCES[0]!r}, {SENTENCES[1]!r}) = {related:.4f}")
    print(f"check_embedding: cos({SENTENCES[0]!r}, {SENTENCES[2]!r}) = {unrelated:.4f}")
    if not related > MIN_PARAPHRASE_COSINE:
        failures.append(f"paraphrase cosine {related:.4f} is not above {MIN_PARAPHRASE_COSINE}")
    if not related - unrelated > MIN_MARGIN:
        failures.append(f"paraphrase cosine {related:.4f} is not {MIN_MARGIN} above the unrelated {unrelated:.4f}")
    if failures:
        raise SystemExit("check_embedding: FAILED: " + "; ".join(failures))
    print(f"check_embedding: ok ({emb.shape[1]}-d)")


if __name__ == "__main__":
    main()
