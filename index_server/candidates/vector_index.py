"""Candidate retrieval over SPDR vectors with FAISS: Flat for small N, IVF-Flat above; or
exact search by matrix products in torch (``backend="torch"``, for a GPU).

Row numbers are FAISS ids (items are only ever appended; deletions are filtered by the
caller and compacted on the next rebuild).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fitrep.domain import F32, InvalidInput


class CandidateIndex:
    """Top-k search; ``metric`` is "ip" (identity space) or "l2" (reduced space)."""

    def __init__(
        self,
        dim: int,
        metric: str = "ip",
        ivf_min_items: int = 50_000,
        nprobe: int = 16,
        threads: int | None = None,
        backend: str = "faiss",
        device: str = "auto",
    ) -> None:
        if metric not in ("ip", "l2"):
            raise InvalidInput("metric", f"{metric!r} is not 'ip' or 'l2'")
        if backend not in ("faiss", "torch"):
            raise InvalidInput("search_backend", f"{backend!r} is not 'faiss' or 'torch'")
        self.dim = dim
        self.metric = metric
        self.ivf_min_items = ivf_min_items
        self.nprobe = nprobe
        self.backend = backend
        self.index: Any  # a FAISS index or a TorchExactIndex (same methods used here)
        if backend == "torch":
            from index_server.candidates.torch_index import TorchExactIndex

            self.index = TorchExactIndex(dim, metric, device)
            return
        import faiss

        if threads:
            faiss.omp_set_num_threads(threads)
        self.index = self._flat()

    def _flat(self):  # type: ignore[no-untyped-def]
        import faiss

        return faiss.IndexFlatIP(self.dim) if self.metric == "ip" else faiss.IndexFlatL2(self.dim)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def describe(self) -> str:
        if self.backend == "torch":
            return str(self.index.describe())
        import faiss

        if isinstance(self.index, faiss.IndexIVFFlat):
            return f"IVFFlat(nlist={self.index.nlist}, nprobe={self.index.nprobe}, {self.metric})"
        return f"Flat({self.metric})"

    def rebuild(self, vectors: F32) -> None:
        """Replace the content; trains IVF when there are enough vectors for it."""
        if self.backend == "torch":
            self.index.rebuild(vectors)
            return
        import faiss

        vectors = self._check(vectors)
        n = len(vectors)
        if n >= self.ivf_min_items:
            nlist = int(min(4 * np.sqrt(n), n // 39))
            quantizer = self._flat()
            metric = faiss.METRIC_INNER_PRODUCT if self.metric == "ip" else faiss.METRIC_L2
            index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, metric)
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

    def add(self, vectors: F32) -> None:
        self.index.add(self._check(vectors))

    def search(self, queries: F32, k: int) -> tuple[F32, np.ndarray]:
        """(scores, rows), each (n, k); rows -1 where fewer than k exist."""
        k = max(1, min(k, self.ntotal))
        if self.ntotal == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(self._check(queries), k)

    def serialize(self) -> bytes:
        if self.backend == "torch":
            return bytes(self.index.serialize())
        import faiss

        return bytes(faiss.serialize_index(self.index))

    def deserialize(self, data: bytes) -> None:
        if self.backend == "torch":
            self.index.deserialize(data)
            return
        import faiss

        self.index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if hasattr(self.index, "nprobe"):
            self.index.nprobe = self.nprobe

    def _check(self, vectors: np.ndarray) -> F32:
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise InvalidInput("vectors", f"expected shape (n, {self.dim}), got {vectors.shape}")
        return np.ascontiguousarray(vectors, dtype=np.float32)
