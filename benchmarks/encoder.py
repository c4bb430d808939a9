"""Text encoder on CPU: PyTorch (sentence-transformers) vs ONNX Runtime fp32 vs int8, one run.

    python benchmarks/encoder.py                 # 2,000 strings, 3 rounds (about 2 min, 2 cores)
    python benchmarks/encoder.py --n 500 --rounds 1

The strings are what the encoder really embeds: the rules backend's level strings (PRIMARY,
CONTENT, ...) of the items in ``examples/data/catalogue.jsonl`` and
``benchmarks/data/variants_multilingual.jsonl``, distinct, then the items' titles and
descriptions to reach ``--n``. Each runtime encodes the same list (batch 128, as the encoder) with no string cache;
the rounds interleave the runtimes, so a busy machine slows them alike, and the table gives
each round's median and the per-round ratio to PyTorch. Cosine: per string, against PyTorch.
Writes ``benchmarks/results/encoder.md`` (``--out`` to change). The ONNX files are exported
into a temporary folder, so the first-load column includes the export (the cost of a first
run on a new machine); later processes load the cached file.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "client"))

from fitrep.domain import TEXT_LEVELS, Item

from benchmarks.results_io import write_markdown
from mllm_server.chie.encoder import TextEmbedder
from mllm_server.chie.extractor import create_extractor

SOURCES = (
    ROOT / "examples" / "data" / "catalogue.jsonl",
    ROOT / "benchmarks" / "data" / "variants_multilingual.jsonl",
)
RUNTIMES = ("torch", "onnx", "onnx-int8")


def strings(n: int) -> list[str]:
    rows = [json.loads(line) for src in SOURCES for line in src.read_text().splitlines() if line]
    items = [
        Item(str(r.get("id", i)), r.get("title", ""), r.get("description") or r.get("text") or "")
        for i, r in enumerate(rows)
    ]
    extractor = create_extractor("rules", ocr="off")
    out: dict[str, None] = {}
    for cs in extractor.extract(items):
        for level in TEXT_LEVELS:
            if text := cs.text_of(level):
                out.setdefault(text)
    for item in items:
        out.setdefault(item.title)
    for item in items:
        if item.text:
            out.setdefault(item.text)
    texts = list(out)
    if len(texts) < n:
        raise SystemExit(f"only {len(texts)} distinct strings, asked for {n}")
    return texts[:n]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "encoder.md")
    args = p.parse_args()

    texts = strings(args.n)
    tokens = None
    onnx_dir = Path(tempfile.mkdtemp(prefix="fitrep-onnx-"))
    os.environ["FITREP_ONNX_DIR"] = str(onnx_dir)
    embedders = {rt: TextEmbedder(runtime=rt, batch_size=args.batch) for rt in RUNTIMES}
    load_s = {}
    for rt, e in embedders.items():
        t = time.perf_counter()
        e(["load the model before timing"])
        load_s[rt] = time.perf_counter() - t
    cached_s = {}
    for rt in ("onnx", "onnx-int8"):  # a later process: the file is there
        t = time.perf_counter()
        TextEmbedder(runtime=rt, batch_size=args.batch)(["load again"])
        cached_s[rt] = time.perf_counter() - t
    model = embedders["onnx"]._load()
    tokens = [
        len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=256)["input_ids"]
    ]

    rates: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for rt, e in embedders.items():
            t = time.perf_counter()
            vectors[rt] = e(texts)
            rates[rt].append(len(texts) / (time.perf_counter() - t))

    import torch

    threads = embedders["onnx"]._load().threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "# Text encoder on CPU: PyTorch vs ONNX Runtime",
        "",
        f"`python benchmarks/encoder.py --n {args.n} --rounds {args.rounds}` on "
        f"{platform.node() or 'vm'} ({cores} cores, shared with other jobs: absolute figures "
        f"are noisy, the per-round ratios less so), {datetime.now():%Y-%m-%d %H:%M}. "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), onnxruntime "
        f"intra-op threads {threads}.",
        "",
        f"{len(texts):,} distinct strings (the rules backend's level strings of the example "
        f"and multilingual catalogues, then titles and descriptions), {statistics.median(tokens):.0f} tokens "
        f"median, {max(tokens)} max; batch {args.batch}, no string cache. Strings/s: median "
        f"of {args.rounds} interleaved rounds (min-max); ratio: per round against PyTorch, median.",
        "",
        "| runtime | strings/s | vs torch | cosine to torch, min | mean | first load s | cached load s |",
        "|---|---|---|---|---|---|---|",
    ]
    for rt in RUNTIMES:
        r = rates[rt]
        ratio = statistics.median(a / b for a, b in zip(r, rates["torch"], strict=True))
        cos = (vectors[rt] * vectors["torch"]).sum(axis=1)
        lines.append(
            f"| {rt} | **{statistics.median(r):,.0f}** ({min(r):,.0f}-{max(r):,.0f}) | "
            f"{ratio:.2f}x | {cos.min():.6f} | {cos.mean():.6f} | {load_s[rt]:.1f} | "
            f"{f'{cached_s[rt]:.1f}' if rt in cached_s else '-'} |"
        )
    cos8 = (vectors["onnx-int8"] * vectors["onnx"]).sum(axis=1)
    lines += [
        "",
        f"int8 against ONNX fp32: cosine min {cos8.min():.4f}, mean {cos8.mean():.4f}; "
        f"{(cos8 < 0.99).sum()} of {len(texts)} strings below 0.99.",
        "",
        "ONNX batches: longest first, at most 128 strings and 8,192 padded tokens, tokenized "
        "once; the PyTorch path is sentence-transformers' encode (128 strings, by characters). "
        "First load: torch = the sentence-transformers model (and the imports); onnx = export from the shipped "
        "weights + session; onnx-int8 = quantising the cached fp32 file + session. "
        "Cached load: a new embedder over the file already exported (tokenizer + session).",
        "",
    ]
    write_markdown(args.out, lines)
    shutil.rmtree(onnx_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
