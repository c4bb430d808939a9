"""GPU benchmark: one prepared script for a lent GPU machine, every figure next to its CPU
baseline measured on the same machine in the same run.

    PYTHONPATH=client:. python benchmarks/gpu.py --out gpu.md          # on the GPU machine
    PYTHONPATH=client:. python benchmarks/gpu.py --quick --out /tmp/g.md  # dry run, any CPU

Sections (each one guarded: a failure is reported and the next one runs):
(s) index-tier search: ``TorchExactIndex`` (exact top-k by matrix products, the
    ``search_backend=torch`` of the index server) on the GPU vs FAISS on the same machine's
    CPU cores (exact Flat, and IVF-Flat as the index server runs it), 1M synthetic clustered
    vectors at the SPDR output size (32-d) and at the full size (192-d);
(e) the CHIE text encoder: a BERT with all-MiniLM-L6-v2's shape (random weights: the
    timing does not depend on them), texts/s on the GPU vs the CPU;
(v) the MLLM tier stand-in: a random-weight decoder with Qwen2.5-VL-7B's language-model shape
    through transformers ``generate`` (no vLLM in the image), a batch of concept prompts of
    the length that one image (256 visual tokens) and the project's prompt give, greedy
    decoding of a concept JSON's length; items/s. The vision tower is not included.
"""

# ruff: noqa: B023, E501
# (B023: every lambda here is called at once by best_of(), inside its loop; E501: table rows)
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "client")]

from index_server.candidates.torch_index import TorchExactIndex  # noqa: E402


def clustered(n: int, d: int, seed: int) -> np.ndarray:
    """Unit vectors of small duplicate groups (1-3 copies) around products that lie on a
    16-d latent manifold, like real embeddings (low intrinsic dimension). The projection is
    fixed; ``seed`` draws the products, so data and queries share one space."""
    proj = np.random.default_rng(12345).normal(size=(16, d)).astype(np.float32)
    rng = np.random.default_rng(seed)
    products = rng.normal(size=(max(n // 2, 1), 16)).astype(np.float32) @ proj
    x = products[rng.integers(0, len(products), n)]
    x += (
        0.15
        * np.sqrt(16 / d)
        * np.linalg.norm(proj, axis=0).mean()
        * rng.normal(size=(n, d)).astype(np.float32)
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()  # warm-up (CUDA context, kernels, caches)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(a.tolist()) & set(b.tolist())) for a, b in zip(found, truth, strict=True))
    return hits / truth.size


def bench_search(n: int, dims: list[int], k: int, quick: bool, lines: list[str]) -> None:
    import faiss

    threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    lines += [
        "## (s) Index-tier search: torch exact on the GPU vs FAISS on this machine's CPU",
        "",
        f"{n:,} synthetic clustered unit vectors; k = {k}; queries in batches as the index "
        f"server sends them. FAISS uses all {threads} CPU cores of the GPU machine. "
        "GPU figures include copying queries to the card and results back. "
        "Recall = share of exact (FAISS Flat) top-k found. Data: `clustered()` (16-d latent products, 1-3 noisy copies).",
        "",
        "| d | method | build s | queries/s | recall@k | vs FAISS IVF (CPU) | vs FAISS Flat (CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in dims:
        data, queries = clustered(n, d, 0), clustered(16_384 if not quick else 512, d, 1)
        rows: list[tuple[str, float, float, float]] = []
        nq_flat = 1024 if not quick else 128
        flat = faiss.IndexFlatIP(d)
        t = time.perf_counter()
        flat.add(data)
        b_flat = time.perf_counter() - t
        s_flat = best_of(lambda: flat.search(queries[:nq_flat], k), 1)
        _, truth = flat.search(queries[:nq_flat], k)
        rows.append(("FAISS Flat, CPU (exact)", b_flat, nq_flat / s_flat, 1.0))
        nlist = int(min(4 * np.sqrt(n), n // 39))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        rng = np.random.default_rng(0)
        ivf.train(data[rng.choice(n, min(n, 64 * nlist), replace=False)])
        ivf.add(data)
        b_ivf = time.perf_counter() - t
        ivf.nprobe = 16
        s_ivf = best_of(lambda: ivf.search(queries, k))
        rows.append(
            (
                f"FAISS IVF-Flat nlist {nlist} nprobe 16, CPU",
                b_ivf,
                len(queries) / s_ivf,
                recall(ivf.search(queries[:nq_flat], k)[1], truth),
            )
        )
        for device, half in (("cuda", False), ("cuda", True), ("cpu", False)):
            import torch

            if device == "cuda" and not torch.cuda.is_available():
                continue
            index = TorchExactIndex(d, "ip", device=device, half=half)
            t = time.perf_counter()
            index.add(data)
            sync()
            build = time.perf_counter() - t
            nq = len(queries) if device == "cuda" else nq_flat
            s = best_of(lambda: (index.search(queries[:nq], k), sync()))
            r = recall(index.search(queries[:nq_flat], k)[1], truth)
            kind = "fp16" if half else "fp32"
            rows.append((f"torch exact {kind}, {device.upper()}", build, nq / s, r))
            if device == "cuda":
                torch.cuda.empty_cache()
        ivf_qps, flat_qps = rows[1][2], rows[0][2]
        for name, build, qps, r in rows:
            lines.append(
                f"| {d} | {name} | {build:.2f} | {qps:,.0f} | {r:.4f} | "
                f"{qps / ivf_qps:.1f}x | {qps / flat_qps:.1f}x |"
            )
    lines.append("")


def bench_encoder(quick: bool, lines: list[str]) -> None:
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=30522,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        max_position_embeddings=512,
    )
    lines += [
        "## (e) CHIE text encoder (all-MiniLM-L6-v2 shape, random weights)",
        "",
        "Batches of 256 texts; tokens per text as CHIE's short concept strings (16) and a "
        "60-token description. CPU = all cores of the GPU machine, fp32.",
        "",
        "| tokens/text | device | texts/s | vs CPU |",
        "|---|---|---|---|",
    ]
    for seq in (16, 64):
        results = []
        for device, dtype in (("cpu", torch.float32), ("cuda", torch.float16)):
            if device == "cuda" and not torch.cuda.is_available():
                continue
            model = BertModel(cfg).to(device=device, dtype=dtype).eval()
            batch = 256
            ids = torch.randint(1000, 30000, (batch, seq), device=device)
            mask = torch.ones_like(ids)
            reps = 2 if (device == "cpu" or quick) else 20

            def run(
                model: BertModel = model,
                ids: torch.Tensor = ids,
                mask: torch.Tensor = mask,
                reps: int = reps,
            ) -> None:
                with torch.inference_mode():
                    for _ in range(reps):
                        out = model(input_ids=ids, attention_mask=mask).last_hidden_state
                        (out * mask[..., None]).sum(1)
                sync()

            s = best_of(run, 2)
            results.append((device, batch * reps / s))
        cpu = results[0][1]
        for device, tps in results:
            lines.append(f"| {seq} | {device.upper()} | {tps:,.0f} | {tps / cpu:.1f}x |")
    lines.append("")


def bench_vlm(quick: bool, lines: list[str]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    if quick or not torch.cuda.is_available():
        cfg = Qwen2Config(
            vocab_size=1000,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
        device, dtype, prompt, new, batches = "cpu", torch.float32, 64, 8, (2,)
    else:  # Qwen2.5-VL-7B-Instruct's language model (its config.json text part)
        cfg = Qwen2Config(
            vocab_size=152064,
            hidden_size=3584,
            intermediate_size=18944,
            num_hidden_layers=28,
            num_attention_heads=28,
            num_key_value_heads=4,
            max_position_embeddings=32768,
            rope_theta=1_000_000.0,
        )
        # one 448x448 image = 256 visual tokens, plus the prompt and the item's text
        device, dtype, prompt, new, batches = "cuda", torch.bfloat16, 256 + 420, 160, (1, 16, 64)
    t = time.perf_counter()
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, dtype=dtype).eval()
    load = time.perf_counter() - t
    n_params = sum(p.numel() for p in model.parameters()) / 1e9
    lines += [
        "## (v) MLLM tier stand-in: 7B decoder through transformers generate",
        "",
        f"Random weights with Qwen2.5-VL-7B's language-model shape ({n_params:.1f} B parameters, "
        f"{str(dtype).removeprefix('torch.')}, built in {load:.1f} s); prompts of {prompt} tokens "
        f"(256 visual tokens of one 448x448 image + the concept prompt and item text), "
        f"{new} new tokens each (greedy, forced length: a concept JSON). transformers "
        "`generate` has no continuous batching or paged attention: vLLM serves more; this is a floor.",
        "",
        "| batch | s per batch | items/s | output tokens/s | latency per item s |",
        "|---|---|---|---|---|",
    ]
    for b in batches:
        ids = torch.randint(100, cfg.vocab_size - 100, (b, prompt), device=device)

        def run(ids: torch.Tensor = ids) -> None:
            with torch.inference_mode():
                model.generate(
                    input_ids=ids,
                    attention_mask=torch.ones_like(ids),
                    max_new_tokens=new,
                    min_new_tokens=new,
                    do_sample=False,
                    pad_token_id=0,
                )
            sync()

        s = best_of(run, 1)
        lines.append(f"| {b} | {s:.2f} | {b / s:.1f} | {b * new / s:,.0f} | {s:.2f} |")
    lines.append("")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a dry run on any CPU")
    ap.add_argument("--sections", default="sev")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    lines = [
        "# GPU measurements",
        "",
        f"`python benchmarks/gpu.py` on {platform.node()}: GPU **{gpu}**, {os.cpu_count()} CPU "
        f"cores, torch {torch.__version__}, {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
    ]
    n = 20_000 if args.quick else args.n
    sections: dict[str, Callable[[], None]] = {
        "s": lambda: bench_search(n, [32, 192], 16, args.quick, lines),
        "e": lambda: bench_encoder(args.quick, lines),
        "v": lambda: bench_vlm(args.quick, lines),
    }
    for key in args.sections:
        t = time.perf_counter()
        try:
            sections[key]()
        except Exception:  # report and go on: device time is too scarce to lose the rest
            lines += [f"Section ({key}) failed:", "", "```", traceback.format_exc(), "```", ""]
        print(f"section {key}: {time.perf_counter() - t:.1f} s", flush=True)
        args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    (args.out.with_suffix(".json")).write_text(json.dumps({"gpu": gpu, "lines": lines}))


if __name__ == "__main__":
    main()
