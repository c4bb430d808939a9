"""Configuration of the concept server, built from flags and printed at start-up."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.columns import ColumnRole, parse_columns
from fitrep.defaults import BATCH_SIZE, CONCEPT_PORT
from fitrep.domain import InvalidInput

from mllm_server.chie.encoder import ENCODERS, RUNTIMES
from mllm_server.chie.extractor import available_backends
from mllm_server.images import ImageLimits
from serving.bootstrap import ServingConfig, add_serving_args, serving_config_from_args

DEFAULT_PORT = CONCEPT_PORT


@dataclass
class ConceptServerConfig:
    """``backend_options`` go to the backend factory untouched (e.g. the vLLM model path)."""

    serving: ServingConfig = field(default_factory=ServingConfig)
    backend: str = "rules"
    backend_options: dict[str, Any] = field(default_factory=dict)
    max_batch: int = BATCH_SIZE
    warmup: bool = True
    encoder_runtime: str | None = None  # None: $FITREP_ENCODER_RUNTIME, else auto
    extract_workers: int | None = None  # rules: processes extracting (None: one per core)
    encoder: str | None = None  # None: $FITREP_ENCODER, else minilm
    images: ImageLimits = field(default_factory=ImageLimits)
    # column roles set by ``--columns``; the others by column name (fitrep.columns)
    columns: dict[str, ColumnRole] = field(default_factory=dict)


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``; VALUE is read as JSON when it parses (numbers, booleans), else a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.replace("-", "_"), value


# flag, type, help: each maps to the backend option of the same name (dashes -> underscores).
_BACKEND_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--model", str, "local model directory (never downloaded)"),
    ("--dtype", str, "e.g. bfloat16, float16, auto"),
    ("--max-model-len", int, "context length"),
    ("--gpu-memory-utilization", float, "fraction of GPU memory vLLM may take"),
    ("--tensor-parallel-size", int, "GPUs per model replica"),
    ("--max-num-seqs", int, "sequences batched at once"),
    ("--max-queue", int, "items waiting before RESOURCE_EXHAUSTED"),
    ("--enforce-eager", bool, "disable CUDA graphs"),
    ("--concept-cache", str, "SQLite file of the concept cache"),
)
_OPTION_NAMES = {"--concept-cache": "cache_path"}


def _shorthand_options(ns: argparse.Namespace) -> dict[str, Any]:
    out = {} if ns.ocr is None else {"ocr": ns.ocr}
    for flag, _, _ in _BACKEND_FLAGS:
        value = getattr(ns, flag[2:].replace("-", "_"))
        if value is not None:
            out[_OPTION_NAMES.get(flag, flag[2:].replace("-", "_"))] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m mllm_server", description=__doc__)
    add_serving_args(p, DEFAULT_PORT)
    p.add_argument("--backend", default="rules", choices=available_backends())
    p.add_argument(
        "--backend-option",
        dest="backend_options",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="passed to the backend as a keyword argument; repeat for several",
    )
    vllm = p.add_argument_group(
        "vllm backend (shorthands for --backend-option; it wins when both are set)"
    )
    for flag, kind, text in _BACKEND_FLAGS:
        if kind is bool:
            vllm.add_argument(flag, action="store_const", const=True, default=None, help=text)
        else:
            vllm.add_argument(flag, type=kind, default=None, help=text)
    rules = p.add_argument_group("rules backend (shorthands for --backend-option)")
    rules.add_argument(
        "--ocr",
        choices=("auto", "on", "off"),
        default=None,
        help="read the words on item pictures (docs/ocr.md): auto = when the [ocr] extra is "
        "installed (default), on, off; about 0.3 s per new picture on 2 cores, cached",
    )
    rules.add_argument(
        "--extract-workers",
        type=int,
        default=None,
        help="processes that extract concepts while the server encodes (default: one per core; "
        "1: in the server process)",
    )
    p.add_argument(
        "--max-batch", type=int, default=BATCH_SIZE, help="items per ExtractConcepts call"
    )
    p.add_argument(
        "--encoder",
        choices=ENCODERS,
        default=None,
        help="the text encoder: minilm (default; $FITREP_ENCODER) or static (a token table "
        "distilled from MiniLM: far faster, lower quality; docs/architecture.md)",
    )
    p.add_argument(
        "--encoder-runtime",
        choices=RUNTIMES,
        default=None,
        help="the text encoder (docs/architecture.md, Encoder runtime): auto = ONNX Runtime when "
        "onnxruntime is installed, else PyTorch (default; $FITREP_ENCODER_RUNTIME); onnx-int8 "
        "is faster but its vectors differ (not the default)",
    )
    img = p.add_argument_group("images (every image is decoded and checked before the backend)")
    img.add_argument(
        "--image-root",
        type=Path,
        default=None,
        help="allow image_uri: regular files under DIR only (default: image_uri is refused)",
    )
    d = ImageLimits()
    for flag, kind, default, text in (
        ("--max-image-mb", float, d.max_image_mb, "encoded bytes per image, MB"),
        ("--max-image-megapixels", float, d.max_image_megapixels, "pixels per image"),
        ("--max-request-mb", float, d.max_request_mb, "encoded image bytes per request, MB"),
        ("--max-request-megapixels", float, d.max_request_megapixels, "pixels per request"),
        ("--image-read-timeout-s", float, d.read_timeout_s, "per image_uri file, seconds"),
        ("--image-workers", int, d.workers, "threads reading and decoding images"),
    ):
        img.add_argument(flag, type=kind, default=default, help=f"{text} (default {default:g})")
    p.add_argument(
        "--columns",
        action="append",
        default=[],
        metavar="NAME=ROLE,...",
        help="column roles (identity, listing, text, ignore); listing and ignored columns are "
        "never evidence of identity. Columns not named here get their role from their name "
        "(price, rating, seller, url ... are listing); repeatable",
    )
    p.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="report SERVING before the models are loaded",
    )
    return p


def config_from_args(argv: Sequence[str] | None = None) -> ConceptServerConfig:
    ns = build_parser().parse_args(argv)
    if ns.ocr is not None and ns.backend != "rules":
        raise SystemExit(f"error: --ocr is the rules backend's; {ns.backend} reads pictures itself")
    if ns.extract_workers is not None and (ns.extract_workers < 1 or ns.backend != "rules"):
        raise SystemExit("error: --extract-workers takes a number >= 1, for the rules backend")
    if ns.image_root is not None and not ns.image_root.is_dir():
        raise SystemExit(f"error: --image-root {ns.image_root} is not a directory")
    try:
        columns = parse_columns(ns.columns)
    except InvalidInput as exc:
        raise SystemExit(f"error: {exc}") from None
    return ConceptServerConfig(
        serving=serving_config_from_args(ns),
        backend=ns.backend,
        backend_options={**_shorthand_options(ns), **dict(ns.backend_options)},
        max_batch=ns.max_batch,
        warmup=ns.warmup,
        encoder_runtime=ns.encoder_runtime,
        extract_workers=ns.extract_workers,
        columns=columns,
        encoder=ns.encoder,
        images=ImageLimits(
            root=ns.image_root,
            max_image_mb=ns.max_image_mb,
            max_image_megapixels=ns.max_image_megapixels,
            max_request_mb=ns.max_request_mb,
            max_request_megapixels=ns.max_request_megapixels,
            read_timeout_s=ns.image_read_timeout_s,
            workers=ns.image_workers,
        ),
    )
