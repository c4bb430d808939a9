"""Exact top-k search by batched matrix products in torch: the GPU search backend.

faiss-gpu wheels need their own CUDA build; torch is already in every install of the project,
and on a GPU a (queries x N) product followed by ``topk`` is exact and fast enough to serve
the index tier without an approximate index. On CPU it works too (tests, small indexes),
but FAISS is the better CPU backend. Implements ``vector_backend.VectorIndex``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from fitrep.domain import F32, InvalidInput

from index_server.candidates.vector_backend import check_vectors

# Elements of one (queries x stored) score block: bounds temporary memory to ~1 GiB in fp32.
_BLOCK_ELEMENTS = 1 << 28


def resolve_device(device: str) -> str:
    """ "auto" -> "cuda" when torch sees a GPU, else "cpu"; anything else as given."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("search_device", f"{device!r} asked for, but torch sees no GPU")
    return device


class TorchExactIndex:
    """Stored vectors live on ``device`` in a growing buffer (doubling, so ``add`` of one chunk
    at a time stays amortised O(1)); ``half`` stores and multiplies in float16, which halves
    memory and doubles GPU throughput at ~1e-3 score error (ties near the k-th hit may swap)."""

    def __init__(
        self, dim: int, metric: str = "ip", device: str = "auto", half: bool = False
    ) -> None:
        import torch

        if metric not in ("ip", "l2"):
            raise InvalidInput("metric", f"{metric!r} is not 'ip' or 'l2'")
        self.dim = dim
        self.metric = metric
        self.device = torch.device(resolve_device(device))
        self.dtype = torch.float16 if half else torch.float32
        self._data = torch.empty((0, dim), dtype=self.dtype, device=self.device)
        self._sq = torch.empty((0,), dtype=torch.float32, device=self.device)
        self._n = 0

    @property
    def ntotal(self) -> int:
        return self._n

    def describe(self) -> str:
        kind = "fp16" if self.dtype.itemsize == 2 else "fp32"
        return f"TorchExact({self.device.type}, {kind}, {self.metric})"

    def rebuild(self, vectors: F32) -> None:
        self._n = 0
        self._data = self._data[:0]
        self._sq = self._sq[:0]
        self.add(vectors)

    def add(self, vectors: F32) -> None:
        import torch

        x = torch.from_numpy(self._check(vectors)).to(self.device)
        need = self._n + len(x)
        if need > len(self._data):
            capacity = max(need, 2 * len(self._data), 1024)
            grown = torch.empty((capacity, self.dim), dtype=self.dtype, device=self.device)
            grown[: self._n] = self._data[: self._n]
            sq = torch.empty((capacity,), dtype=torch.float32, device=self.device)
            sq[: self._n] = self._sq[: self._n]
            self._data, self._sq = grown, sq
        self._data[self._n : need] = x.to(self.dtype)
        self._sq[self._n : need] = (x * x).sum(dim=1)
        self._n = need

    def search(self, queries: F32, k: int) -> tuple[F32, np.ndarray]:
        """(scores, rows), each (n, k), best first: inner products (ip) or squared L2 (l2),
        like FAISS; rows -1 where fewer than k exist."""
        import torch

        q_np = self._check(queries)
        n = len(q_np)
        if self._n == 0 or n == 0:
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        k = max(1, min(k, self._n))
        data, sq = self._data[: self._n], self._sq[: self._n]
        scores = np.empty((n, k), np.float32)
        rows = np.empty((n, k), np.int64)
        step = max(1, _BLOCK_ELEMENTS // self._n)
        with torch.inference_mode():
            for start in range(0, n, step):
                q = torch.from_numpy(q_np[start : start + step]).to(self.device)
                ip = (q.to(self.dtype) @ data.T).float()
                if self.metric == "ip":
                    top, idx = torch.topk(ip, k, dim=1)
                else:  # smallest |q|^2 - 2 q.x + |x|^2
                    dist = (q * q).sum(dim=1, keepdim=True) - 2.0 * ip + sq[None, :]
                    top, idx = torch.topk(dist, k, dim=1, largest=False)
                scores[start : start + len(q)] = top.cpu().numpy()
                rows[start : start + len(q)] = idx.cpu().numpy()
        return scores, rows

    def serialize(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, self._data[: self._n].float().cpu().numpy())
        return buf.getvalue()

    def deserialize(self, data: bytes) -> None:
        self.rebuild(np.load(io.BytesIO(data)))

    def _check(self, vectors: Any) -> F32:
        return check_vectors(np.asarray(vectors), self.dim)
