"""Attention-guided integration: per-level vectors -> one vector whose inner product is the
weighted sum of per-level cosines.

Item vector = concat over levels of ``sqrt(w_l) * e_l`` (``e_l`` unit length, zeros when the
level is absent), so ``<x_a, x_b> = sum_l w_l cos_l(a, b)``: one FAISS search yields the
weighted score, and the per-level terms are the explanation. The store keeps the
*unweighted* concatenation so that re-calibrated weights need no re-embedding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from fitrep.domain import ALL_LEVELS, F32, InvalidInput, Level, LevelEmbeddings


@dataclass(frozen=True)
class LevelLayout:
    """Where each level's block sits in the concatenated vector."""

    dims: tuple[tuple[Level, int], ...]

    @classmethod
    def from_dims(cls, dims: Mapping[Level, int]) -> LevelLayout:
        return cls(tuple((level, int(dims[level])) for level in ALL_LEVELS if level in dims))

    @property
    def levels(self) -> tuple[Level, ...]:
        return tuple(level for level, _ in self.dims)

    @property
    def total(self) -> int:
        return sum(d for _, d in self.dims)

    def slices(self) -> dict[Level, slice]:
        out, start = {}, 0
        for level, dim in self.dims:
            out[level] = slice(start, start + dim)
            start += dim
        return out

    def to_json(self) -> dict[str, int]:
        return {level.name: dim for level, dim in self.dims}

    @classmethod
    def from_json(cls, data: Mapping[str, int]) -> LevelLayout:
        return cls.from_dims({Level[name]: dim for name, dim in data.items()})


def concatenate(embeddings: Sequence[LevelEmbeddings], layout: LevelLayout) -> F32:
    """Unweighted concatenation, shape (n, layout.total); absent levels stay zero."""
    out = np.zeros((len(embeddings), layout.total), np.float32)
    slices = layout.slices()
    for i, emb in enumerate(embeddings):
        for level, vector in emb.vectors.items():
            where = slices.get(level)
            if where is None:
                raise InvalidInput(
                    f"items[{i}].embeddings.vectors[{level.name}]",
                    f"level {level.name} is not in this index's layout {layout.to_json()}",
                )
            if vector.shape != (where.stop - where.start,):
                raise InvalidInput(
                    f"items[{i}].embeddings.vectors[{level.name}]",
                    f"dimension {vector.shape} does not match the index"
                    f" ({where.stop - where.start})",
                )
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                out[i, where] = vector / norm
    return out


def weight_vector(layout: LevelLayout, weights: Mapping[Level, float]) -> F32:
    """Per-dimension multipliers ``sqrt(w_l)``, shape (layout.total,)."""
    scale = np.zeros(layout.total, np.float32)
    for level, where in layout.slices().items():
        scale[where] = np.sqrt(max(float(weights.get(level, 0.0)), 0.0))
    return scale


def integrate(unweighted: F32, layout: LevelLayout, weights: Mapping[Level, float]) -> F32:
    """Weighted vectors for retrieval: inner product = sum_l w_l cos_l."""
    return np.ascontiguousarray(unweighted * weight_vector(layout, weights), dtype=np.float32)


def level_cosines(a: F32, b: F32, layout: LevelLayout) -> tuple[F32, np.ndarray]:
    """Per-level cosines of row ``a`` (d,) against rows ``b`` (m, d).

    Returns (cos (m, L), both_present (m, L) bool) in ``layout.levels`` order.
    """
    slices = layout.slices()
    m = b.shape[0]
    cos = np.zeros((m, len(slices)), np.float32)
    present = np.zeros((m, len(slices)), bool)
    for j, where in enumerate(slices.values()):
        va = a[where].astype(np.float32)
        if not va.any():
            continue
        vb = b[:, where].astype(np.float32)
        # einsum, not a BLAS matrix-vector product: one pair's cosine must not depend on
        # how many rows are scored with it (gemv blocks rows), and it equals the chunk's
        cos[:, j] = np.einsum("md,d->m", vb, va)
        present[:, j] = vb.any(axis=1)
    cos[~present] = 0.0
    return cos, present


def infer_layout(embeddings: Sequence[LevelEmbeddings]) -> LevelLayout:
    """The layout of the levels present in ``embeddings``; every item must agree on each
    level's dimension. Text levels share one encoder, so a text level absent from these
    items gets the text dimension too."""
    dims: dict[Level, int] = {}
    for i, emb in enumerate(embeddings):
        for level, vec in emb.vectors.items():
            if dims.setdefault(level, int(vec.shape[0])) != vec.shape[0]:
                raise InvalidInput(
                    f"items[{i}].embeddings.vectors[{level.name}]",
                    f"dimension {vec.shape[0]} differs from earlier items ({dims[level]})",
                )
    if not dims:
        raise InvalidInput("items", "no item carries any level embedding")
    text_dim = next((d for lv, d in dims.items() if lv != Level.VISUAL), None)
    if text_dim is not None:
        for level in Level:
            if level != Level.VISUAL:
                dims.setdefault(level, text_dim)
    return LevelLayout.from_dims(dims)
