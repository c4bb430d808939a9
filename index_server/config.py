"""IndexConfig: every knob of the index tier in one dataclass, built from flags or code."""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fitrep.domain import InvalidInput, ItemProfile

# Defaults that code outside ``IndexConfig`` also needs (the vector index and SPDR take them as
# arguments): written once here.
SPDR_MAX_FIT_ITEMS = 50_000  # SPDR fits on a sample of at most this many rows
IVF_MIN_ITEMS = 50_000  # FAISS: exact Flat below this many vectors, IVF-Flat from there
NPROBE = 16  # IVF lists searched per query
DEFAULT_REPRESENTATIVE = "first"
POLICIES = (DEFAULT_REPRESENTATIVE, "most-complete", "column:NAME")
SELF_CALIBRATION_SCOPES = ("substitutions", "all", "off")  # IndexConfig.self_calibration
ITEM_FIELDS = ("id", "title", "text", "description", "image")  # fitrep.readers' fields
_IMAGE_SCALE = float(2**40)  # pixels below this (1e12) never reach the next filled field


@dataclass(frozen=True)
class RepresentativePolicy:
    """Which member stands for a cluster (``clustering/representative.py`` applies it):
    ``kind`` is "first", "most-complete" or "column" (then ``column`` names it). Parsed once,
    by ``IndexConfig``, wherever the text comes from (a flag, the SDK)."""

    kind: str = DEFAULT_REPRESENTATIVE
    column: str = ""

    @classmethod
    def parse(cls, text: str, where: str = "representative") -> RepresentativePolicy:
        spec = text.strip()
        if spec in ("first", "most-complete"):
            return cls(spec)
        name = spec.removeprefix("column:").strip().lower()
        if spec.startswith("column:") and name in ITEM_FIELDS:
            # never a column: the reader takes them as the item's fields, never as numbers
            raise InvalidInput(where, f"{name!r} is an item field, not a column of numbers")
        if spec.startswith("column:") and name:
            return cls("column", name)
        raise InvalidInput(where, f"{text!r} is not one of {', '.join(POLICIES)}")

    def __str__(self) -> str:
        return f"column:{self.column}" if self.kind == "column" else self.kind

    def key(self, profile: ItemProfile) -> float:
        """How good a member is under this policy: higher is better, equal keys tie."""
        if self.kind == "most-complete":
            return profile.filled_fields * _IMAGE_SCALE + min(profile.image_pixels, 2**40 - 1)
        if self.kind == "column":
            value = profile.numbers.get(self.column)
            return float(value) if value is not None and math.isfinite(value) else -math.inf
        return 0.0


@dataclass
class IndexConfig:
    data_dir: Path | None = None  # None: in memory only
    calibration: Path | None = None  # None: the calibration shipped with the project
    k: int = 16  # candidates retrieved per item
    code_candidates: int = 8  # more candidates: earlier items sharing a title model code
    rerank_factor: int = 4  # with a reduced space: pool of k * this, re-ranked in the full space
    max_checked: int = 8  # cluster members an item must agree with
    min_member_share: float = 0.25  # no checked member may score below this share of the threshold
    core: int = 4  # a cluster's first members: the mean over them must pass core_share x threshold
    core_share: float = 1.0  # (so a chain of similar siblings cannot drift from where it began)
    spdr_method: str = "auto"  # auto | identity | pca | umap
    spdr_components: int | None = None  # None: the method's default (pca 64, umap 32)
    spdr_min_items: int = 20_000  # below: exact search in the full space
    # that exact search screened through a projection of this size (candidates/screened_index.py:
    # the same top k, a few per cent of the reads); 0: FAISS's Flat index scans every row
    screen_dims: int = 128
    spdr_max_fit_items: int = SPDR_MAX_FIT_ITEMS
    refit_growth: float = 2.0  # refit SPDR when the index has grown by this factor
    # that refit in a thread beside the service, the current index answering until the new
    # one is installed (a few batches later): no stop of every call while it runs (10 s at
    # 20k rows). The index server's default; in process (a build, the SDK) the refit runs
    # at once, so the same calls give the same decisions
    refit_in_background: bool = False
    ivf_min_items: int = IVF_MIN_ITEMS
    nprobe: int = NPROBE
    threads: int | None = None
    # a write call with fewer new items than this runs numpy's BLAS and OpenMP (FAISS) on one
    # thread: a 16-item call is too small to split, and two pools spinning for the two cores
    # of a busy machine made it 2.5x slower (benchmarks/results/small_batch.md); 0: never
    single_thread_below: int = 256
    search_backend: str = "faiss"  # faiss | torch (exact matrix-product search, for a GPU)
    search_device: str = "auto"  # torch backend: auto (cuda when present) | cpu | cuda[:N]
    # how rows' full vectors are kept (rows/compact.py): int8 per level | float16; a store keeps
    # the codec it was created with
    vector_codec: str = "int8"
    # which member stands for a cluster: first | most-complete | column:NAME
    # (clustering/representative.py)
    representative: str = DEFAULT_REPRESENTATIVE
    # the catalogue's own Fellegi–Sunter weights, fitted at build (scoring/catalogue_fit.py):
    # substitutions (identity substitutions may count for more against) | all | off
    self_calibration: str = SELF_CALIBRATION_SCOPES[0]

    def __post_init__(self) -> None:
        self.policy  # noqa: B018 - a bad --representative fails where the config is made
        if self.self_calibration not in SELF_CALIBRATION_SCOPES:
            raise InvalidInput(
                "--self-calibration",
                f"{self.self_calibration!r} is not one of {', '.join(SELF_CALIBRATION_SCOPES)}",
            )

    @functools.cached_property
    def policy(self) -> RepresentativePolicy:
        return RepresentativePolicy.parse(self.representative, "--representative")

    def describe(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
