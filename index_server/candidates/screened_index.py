"""Exact inner-product search over full vectors, screened through a small projection.

Below ``spdr_min_items`` rows a row's candidates are its exact nearest rows in the full space
(6 levels x 384-d = 2,304-d). FAISS's Flat index scans every stored vector once per query when a
search has fewer than 20 queries (its BLAS path starts there), so a 16-item assign call read the
whole index 16 times: 68 % of such a call at 10k rows (``benchmarks/results/load.md``). This
index returns the same top k (exact, whatever the data) and reads a few per cent of it:

every stored vector x is split by an orthonormal basis ``B`` (d x D, d << D: the top right
singular vectors of a sample of the rows, uncentred) into its projection ``z = B x`` and the
norm of the rest, ``r = |x - B^T z|``. For a query q (``z_q``, ``r_q``) the parts are
orthogonal, so ``q.x = z_q.z + (q - B^T z_q).(x - B^T z) <= z_q.z + r_q r`` (Cauchy-Schwarz):

1. the bound of every row comes from the d-dim projections (d/D of the reads);
2. the exact scores of the k rows with the best bounds give a k-th best exact score ``s``;
3. every row whose bound reaches ``s`` (less a margin for float rounding) is scored exactly; no
   other row can be in the top k, so its k best are the exact top k.

The basis only decides how many rows step 3 scores (10k real-text rows, 64 dims: ~1.6 % of
them, 128 dims: ~0.5 %); it is fitted once the index has ``BRUTE_ROWS`` rows and again each
time it doubles up to ``FIT_ROWS`` (below ``BRUTE_ROWS``, and for a k above 1/``SCREEN_K`` of
the rows, or more than ``SCREEN_QUERIES`` queries, a search is one plain product: scoring
rows one query at a time loses there; a 4,589-row build took 275 s screened, 41 s so).
Implements ``vector_backend.VectorIndex`` for the "ip" metric.
"""

from __future__ import annotations

import io

import numpy as np
from fitrep.domain import F32

from index_server.candidates.vector_backend import check_vectors

BRUTE_ROWS = 2048  # fewer stored rows: one matrix product, no basis
FIT_ROWS = 8192  # the basis is refitted as the index doubles, until it was fitted on this many
SCREEN_QUERIES = 256  # screened only for searches of at most this many queries (assign calls)
SCREEN_K = 32  # screened only when k is at most 1/SCREEN_K of the rows, else one product
MARGIN = 1e-4  # float32 rounding of the bound and the exact score stays far below this
_BLOCK = 1 << 22  # elements of one (queries x rows) block: 16 MB of float32


class ScreenedExactIndex:
    """See the module docstring. ``dims``: the projection's size d."""

    def __init__(self, dim: int, dims: int = 128, seed: int = 0, reserve: int = 0) -> None:
        self.dim = dim
        self.dims = min(dims, dim)
        self.seed = seed
        # rows the buffers are first made for: growing them (doubling) copied every row so
        # far (150 MB of 2,304-d rows at 16,384: a 0.1-1.4 s stall in the call that crossed it);
        # untouched pages of a reserve cost no memory, so the generator reserves the rows
        # this index will hold before SPDR replaces it (``spdr_min_items``)
        self.reserve = reserve
        self._x = np.empty((0, dim), np.float32)  # growing buffers (doubling)
        self._z = np.empty((0, self.dims), np.float32)
        self._r = np.empty((0,), np.float32)
        self._n = 0
        self.basis: F32 | None = None
        self.fit_rows = 0
        self.scored = 0  # rows scored exactly by ``search`` (screening beside brute force)

    @property
    def ntotal(self) -> int:
        return self._n

    def describe(self) -> str:
        return f"ScreenedExact(ip, {self.dims} dims)"

    def rebuild(self, vectors: F32) -> None:
        self._n = 0
        self.basis = None
        self.fit_rows = 0
        self.add(vectors)

    def add(self, vectors: F32) -> None:
        x = check_vectors(vectors, self.dim)
        need = self._n + len(x)
        if need > len(self._x):
            capacity = max(need, 2 * len(self._x), 1024, self.reserve)
            for name, shape in (("_x", (capacity, self.dim)), ("_z", (capacity, self.dims))):
                grown = np.empty(shape, np.float32)
                grown[: self._n] = getattr(self, name)[: self._n]
                setattr(self, name, grown)
            r = np.empty(capacity, np.float32)
            r[: self._n] = self._r[: self._n]
            self._r = r
        start, self._n = self._n, need
        self._x[start:need] = x
        refit = self.fit_rows < FIT_ROWS and need >= max(BRUTE_ROWS, 2 * self.fit_rows)
        if refit:
            self._fit()
        elif self.basis is not None:
            self._project(start, need)

    def _fit(self) -> None:
        """A basis from a sample of the rows, then every row's projection and rest."""
        from sklearn.utils.extmath import randomized_svd

        n = self._n
        rng = np.random.default_rng(self.seed)
        take = min(n, FIT_ROWS)
        sample = self._x[np.sort(rng.choice(n, take, replace=False))] if take < n else self._x[:n]
        _, _, vt = randomized_svd(sample, self.dims, n_iter=4, random_state=self.seed)
        self.basis = np.ascontiguousarray(vt, np.float32)
        self.fit_rows = n
        self._project(0, n)

    def _project(self, start: int, stop: int) -> None:
        assert self.basis is not None
        step = max(1, _BLOCK // self.dim)
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            z, r = self._split(self._x[lo:hi])
            self._z[lo:hi] = z
            self._r[lo:hi] = r

    def _split(self, x: F32) -> tuple[F32, F32]:
        """Projections (n, d) and the norms of the rests (n,)."""
        assert self.basis is not None
        z = x @ self.basis.T
        return z, np.linalg.norm(x - z @ self.basis, axis=1)

    def search(self, queries: F32, k: int) -> tuple[F32, np.ndarray]:
        """(scores, rows), each (m, k), best first (inner products, ties to the lower row),
        like FAISS's Flat index; k is cut to the rows stored."""
        q = check_vectors(queries, self.dim)
        m, n = len(q), self._n
        if n == 0 or m == 0:
            return np.zeros((m, 0), np.float32), np.zeros((m, 0), np.int64)
        k = max(1, min(k, n))
        scores = np.empty((m, k), np.float32)
        rows = np.empty((m, k), np.int64)
        step = max(1, _BLOCK // n)
        # a wide search (the generator widens 4x at a time; a build's early rows widen far)
        # scores too many rows exactly one by one: the product is cheaper there
        # and a search of many queries (a build's) is one BLAS product per block, as FAISS's
        screened = self.basis is not None and SCREEN_K * k <= n and m <= SCREEN_QUERIES
        for lo in range(0, m, step):
            block = slice(lo, min(lo + step, m))
            search = self._screened if screened else self._brute
            scores[block], rows[block] = search(q[block], k)
        return scores, rows

    def _brute(self, q: F32, k: int) -> tuple[F32, np.ndarray]:
        exact = q @ self._x[: self._n].T
        return _top(exact, np.arange(self._n), k)

    def _screened(self, q: F32, k: int) -> tuple[F32, np.ndarray]:
        n = self._n
        zq, rq = self._split(q)
        bound = zq @ self._z[:n].T
        bound += rq[:, None] * self._r[None, :n]
        scores = np.empty((len(q), k), np.float32)
        rows = np.empty((len(q), k), np.int64)
        first = min(n, k)
        for i, b in enumerate(bound):
            best = np.argpartition(b, n - first)[n - first :]  # the best bounds
            exact = self._x[best] @ q[i]
            kth = np.partition(exact, first - k)[first - k]  # a k-th best exact score
            sel = np.flatnonzero(b >= kth - MARGIN)  # every row that can reach the top k
            self.scored += len(sel)
            s, r = _top((self._x[sel] @ q[i])[None, :], sel, k)
            scores[i], rows[i] = s[0], r[0]
        return scores, rows

    def serialize(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, self._x[: self._n])
        return buf.getvalue()

    def deserialize(self, data: bytes) -> None:
        self.rebuild(np.load(io.BytesIO(data)))


def _top(exact: F32, ids: np.ndarray, k: int) -> tuple[F32, np.ndarray]:
    """The k best of each row of ``exact`` (m, len(ids)), best first, ties to the lower id."""
    if k < exact.shape[1]:
        part = np.argpartition(-exact, k - 1, axis=1)[:, :k]
        # a tie at the k-th score may be cut anywhere by argpartition: those rows keep the
        # lowest ids among the tied
        kth = np.take_along_axis(exact, part, axis=1).min(axis=1, keepdims=True)
        tied = np.flatnonzero(np.sum(exact >= kth, axis=1) > k)
        if len(tied):
            part[tied] = np.argsort(-exact[tied], axis=1, kind="stable")[:, :k]
    else:
        part = np.broadcast_to(np.arange(exact.shape[1]), exact.shape)
    vals = np.take_along_axis(exact, part, axis=1)
    found = ids[part]
    order = np.lexsort((found, -vals), axis=1)
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(found, order, axis=1)
