"""IndexConfig: every knob of the index tier in one dataclass, built from flags or code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Defaults that code outside ``IndexConfig`` also needs (the vector index and SPDR take them as
# arguments): written once here.
SPDR_MAX_FIT_ITEMS = 50_000  # SPDR fits on a sample of at most this many rows
IVF_MIN_ITEMS = 50_000  # FAISS: exact Flat below this many vectors, IVF-Flat from there
NPROBE = 16  # IVF lists searched per query


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
    spdr_max_fit_items: int = SPDR_MAX_FIT_ITEMS
    refit_growth: float = 2.0  # refit SPDR when the index has grown by this factor
    ivf_min_items: int = IVF_MIN_ITEMS
    nprobe: int = NPROBE
    threads: int | None = None
    search_backend: str = "faiss"  # faiss | torch (exact matrix-product search, for a GPU)
    search_device: str = "auto"  # torch backend: auto (cuda when present) | cpu | cuda[:N]
    # how rows' full vectors are kept (rows/compact.py): int8 per level | float16; a store keeps
    # the codec it was created with
    vector_codec: str = "int8"
    # which member stands for a cluster: first | most-complete | column:NAME
    # (clustering/representative.py)
    representative: str = "first"
    # the catalogue's own Fellegi–Sunter weights, fitted at build (scoring/catalogue_fit.py):
    # substitutions (identity substitutions may count for more against) | all | off
    self_calibration: str = "substitutions"

    def describe(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
