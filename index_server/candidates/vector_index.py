"""Vector indexes over SPDR vectors, one class per backend: FAISS (Flat for small N,
IVF-Flat above; searched on a GPU when faiss-gpu is installed and sees one), or exact search
by matrix products in torch (for a GPU without faiss-gpu).

Row numbers are index ids (items are only ever appended; deletions are filtered by the
caller and compacted on the next rebuild).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fitrep.domain import F32, InvalidInput

from index_server.candidates.vector_backend import VectorIndex, check_vectors
from index_server.config import IVF_MIN_ITEMS, NPROBE

BACKENDS = ("faiss", "torch")


def create_index(
    dim: int,
    metric: str = "ip",
    ivf_min_items: int = IVF_MIN_ITEMS,
    nprobe: int = NPROBE,
    threads: int | None = None,
    backend: str = "faiss",
    device: str = "auto",
    screen_dims: int = 0,
    screen_rows: int = 0,
) -> VectorIndex:
    """The index of ``backend``; ``metric`` is "ip" (identity space) or "l2" (reduced).
    ``screen_dims`` > 0: the full space ("ip", ``dim`` above it) is searched exactly through
    a projection of that size (``screened_index``) when FAISS sees no GPU, its buffers made
    for ``screen_rows`` rows at once."""
    if metric not in ("ip", "l2"):
        raise InvalidInput("metric", f"{metric!r} is not 'ip' or 'l2'")
    if backend not in BACKENDS:
        raise InvalidInput("search_backend", f"{backend!r} is not 'faiss' or 'torch'")
    if backend == "torch":
        from index_server.candidates.torch_index import TorchExactIndex

        return TorchExactIndex(dim, metric, device)
    if metric == "ip" and 0 < screen_dims < dim:
        import faiss

        if not faiss_gpus(faiss):
            from index_server.candidates.screened_index import ScreenedExactIndex

            return ScreenedExactIndex(dim, screen_dims, reserve=screen_rows)
    return FaissIndex(dim, metric, ivf_min_items, nprobe, threads)


def faiss_gpus(faiss: Any) -> int:
    """GPUs this FAISS build can use: 0 for faiss-cpu (no ``StandardGpuResources``)."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    try:
        return int(faiss.get_num_gpus())
    except Exception:  # a CUDA build on a machine without a driver
        return 0


class FaissIndex:
    """FAISS: exact Flat below ``ivf_min_items`` vectors, IVF-Flat from there.

    The CPU index is the one of record (it is what ``serialize`` writes, so a snapshot loads
    on any machine); with faiss-gpu and a visible GPU a copy on GPU 0 answers the searches
    and receives every ``add``, else the CPU index answers (the ``[gpu]`` extra's path).
    """

    def __init__(
        self,
        dim: int,
        metric: str = "ip",
        ivf_min_items: int = IVF_MIN_ITEMS,
        nprobe: int = NPROBE,
        threads: int | None = None,
    ) -> None:
        import faiss

        self.dim = dim
        self.metric = metric
        self.ivf_min_items = ivf_min_items
        self.nprobe = nprobe
        if threads:
            faiss.omp_set_num_threads(threads)
        self._gpu_resources: Any = faiss.StandardGpuResources() if faiss_gpus(faiss) else None
        self._gpu_index: Any = None
        self.index: Any = self._flat()
        self._mirror()

    def _mirror(self) -> None:
        """(Re)make the GPU copy of the CPU index, when there is a GPU to put it on."""
        if self._gpu_resources is None:
            return
        import faiss

        self._gpu_index = faiss.index_cpu_to_gpu(self._gpu_resources, 0, self.index)
        if hasattr(self._gpu_index, "nprobe"):
            self._gpu_index.nprobe = self.nprobe

    def _flat(self) -> Any:
        import faiss

        return faiss.IndexFlatIP(self.dim) if self.metric == "ip" else faiss.IndexFlatL2(self.dim)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def describe(self) -> str:
        import faiss

        where = ", gpu" if self._gpu_index is not None else ""
        if isinstance(self.index, faiss.IndexIVFFlat):
            return (
                f"IVFFlat(nlist={self.index.nlist}, nprobe={self.index.nprobe}, "
                f"{self.metric}{where})"
            )
        return f"Flat({self.metric}{where})"

    def rebuild(self, vectors: F32) -> None:
        """Replace the content; trains IVF when there are enough vectors for it."""
        import faiss

        vectors = check_vectors(vectors, self.dim)
        n = len(vectors)
        if n >= self.ivf_min_items:
            nlist = int(min(4 * np.sqrt(n), n // 39))
            metric = faiss.METRIC_INNER_PRODUCT if self.metric == "ip" else faiss.METRIC_L2
            index = faiss.IndexIVFFlat(self._flat(), self.dim, nlist, metric)
            rng = np.random.default_rng(0)
            train = (
                vectors if n <= 64 * nlist else vectors[rng.choice(n, 64 * nlist, replace=False)]
            )
            index.train(train)
            index.nprobe = self.nprobe
            self.index = index
        else:
            self.index = self._flat()
        self.index.add(vectors)
        self._mirror()

    def add(self, vectors: F32) -> None:
        vectors = check_vectors(vectors, self.dim)
        self.index.add(vectors)
        if self._gpu_index is not None:
            self._gpu_index.add(vectors)

    def search(self, queries: F32, k: int) -> tuple[F32, np.ndarray]:
        """(scores, rows), each (n, k); rows -1 where fewer than k exist."""
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        searcher = self._gpu_index if self._gpu_index is not None else self.index
        return searcher.search(check_vectors(queries, self.dim), k)  # type: ignore[no-any-return]

    def search_below(self, queries: F32, k: int, below: int) -> tuple[F32, np.ndarray]:
        """``search`` among the rows numbered below ``below`` only. A batch build asks for
        each row's nearest *earlier* rows: a plain search returns later rows too, and the
        early rows of a catalogue needed a second, 4x wider search (half of the searches of
        a 100k build). The GPU copy searches plainly (the caller filters either way)."""
        if self._gpu_index is not None or below >= self.ntotal or self.ntotal == 0:
            return self.search(queries, k)
        import faiss

        k = max(1, min(k, self.ntotal))
        selector = faiss.IDSelectorRange(0, max(below, 0), True)  # ids are rows, ascending
        params: Any = faiss.SearchParameters()
        if isinstance(self.index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF()
            params.nprobe = self.index.nprobe  # the parameters' own default is 1
        params.sel = selector  # a pointer: ``selector`` outlives the search below
        q = check_vectors(queries, self.dim)
        return self.index.search(q, k, params=params)  # type: ignore[no-any-return]

    def serialize(self) -> bytes:
        import faiss

        return bytes(faiss.serialize_index(self.index))

    def deserialize(self, data: bytes) -> None:
        import faiss

        self.index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if hasattr(self.index, "nprobe"):
            self.index.nprobe = self.nprobe
        self._mirror()
