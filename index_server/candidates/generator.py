"""Candidate generation: the earlier rows each item is compared with.

SPDR reduces the integrated vectors, a vector index searches them, the exact weighted score
in the full space re-ranks a wider pool, and model-code blocking adds rows sharing a title
code. Candidates are canonical: only earlier, live rows, and ties go to the older row, so a
row gets the same candidates in a batch build (later rows indexed too) as in incremental
assignment — the reason build == assign.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from fitrep.domain import Anchors, Level

from index_server.candidates.code_blocking import CodeBlocks
from index_server.candidates.spdr import SPDR
from index_server.candidates.vector_backend import VectorIndex
from index_server.candidates.vector_index import create_index
from index_server.config import IndexConfig
from index_server.integration import integrate, weight_vector
from index_server.rows.codes import CODE_SLOTS
from index_server.rows.table import RowTable

Progress = Callable[[str, int, int], None]
log = logging.getLogger("fitrep.index")
NO_ROW = np.iinfo(np.int64).max  # sorts after every row id
# The most rows an exact screened index reserves its buffers for (virtual memory until used:
# 300 MB of 2,304-d float32 rows); below ``spdr_min_items`` it never grows past them.
SCREEN_RESERVE_ROWS = 1 << 15


class CandidateGenerator:
    """Owns the reducer and the vector index (derived state: rebuilt from the rows)."""

    def __init__(self, rows: RowTable, config: IndexConfig, weights: Mapping[Level, float]) -> None:
        self.rows = rows
        self.config = config
        self.weights = weights
        self.codes = CodeBlocks()
        self.reducer: SPDR | None = None
        self.cindex: VectorIndex | None = None
        self.index_version = 0
        self.fit_size = 0
        self._pending: PendingRefit | None = None  # a refit running beside the service

    # -- vectors -------------------------------------------------------------------------
    def weighted(self, rows: slice | Sequence[int] | np.ndarray) -> np.ndarray:
        assert self.rows.layout is not None
        return integrate(self.rows.full(rows), self.rows.layout, self.weights)

    def weighted_all(self, n: int | None = None) -> np.ndarray:
        """(n, D) weighted vectors of the first ``n`` rows (None: every row), decoded block by
        block into one float32 array (decoding the whole table first would hold it twice: 3
        GB at 1M x 384-d)."""
        assert self.rows.layout is not None
        n, step = self.rows.n if n is None else n, 1 << 16
        scale = weight_vector(self.rows.layout, self.weights)
        out = np.empty((n, self.rows.layout.total), np.float32)
        for start in range(0, n, step):
            np.multiply(
                self.rows.full(slice(start, min(start + step, n))),
                scale,
                out=out[start : start + step],
            )
        return out

    def reduce_all(self) -> np.ndarray:
        """The reducer's output for every row, decoded and weighted block by block: the
        (n, D) weighted matrix is never whole (6 GB at 1M rows of six 256-d levels)."""
        assert self.reducer is not None
        return self._reduce(self.reducer, self.rows.n)

    def _reduce(self, reducer: SPDR, n: int) -> np.ndarray:
        """``reducer``'s output for the first ``n`` rows (block by block, as ``reduce_all``)."""
        assert self.rows.layout is not None
        step = 1 << 16
        parts = [
            reducer.transform(self.weighted(slice(s, min(s + step, n)))) for s in range(0, n, step)
        ]
        if parts:
            return np.concatenate(parts)
        return reducer.transform(np.zeros((0, self.rows.layout.total), np.float32))

    def weighted_queries(self, full: np.ndarray) -> np.ndarray:
        """Weighted vectors of unweighted full vectors (m, D) that are not stored rows."""
        assert self.rows.layout is not None
        return integrate(full, self.rows.layout, self.weights)

    def exact_scores(self, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(m, p) weighted full-space scores of stored ``rows`` (m, p) against weighted
        ``queries`` (m, D): the weights move to the query side (sqrt(w) twice = w), so the
        stored records are never decoded or re-weighted (``RowTable.dot``)."""
        assert self.rows.layout is not None
        scaled = queries * weight_vector(self.rows.layout, self.weights)
        return self.rows.dot(rows, scaled)

    # -- the index -----------------------------------------------------------------------
    def refit(self, data_dir: Path | None, progress: Progress | None = None) -> None:
        """Fit SPDR on all rows and rebuild the index (new index version). Cluster ids do
        not change: retrieval only proposes candidates."""
        n = self.rows.n
        if progress:
            progress("reduce", 0, n)
        self.wait_refit()  # superseded: this one covers every row
        self._pending = None
        self.reducer = self._fit_reducer(n)
        self.rebuild_index(self.reduce_all())
        self.fit_size = n
        self.index_version += 1
        if data_dir:
            self.reducer.save(data_dir / f"reducer-v{self.index_version}.pkl")
        if progress:
            progress("reduce", n, n)

    def _fit_reducer(self, n: int) -> SPDR:
        """SPDR fitted on the first ``n`` rows."""
        assert self.rows.layout is not None
        cfg = self.config
        return SPDR(
            method=cfg.spdr_method,
            n_components=cfg.spdr_components,
            min_items=cfg.spdr_min_items,
            max_fit_items=cfg.spdr_max_fit_items,
        ).fit_rows(
            n,
            self.rows.layout.total,
            # what the fit reads: the first n rows, or those of a sample of them
            lambda rows: self.weighted_all(n) if rows is None else self.weighted(rows),
        )

    def fitted_index(self, n: int) -> tuple[SPDR, VectorIndex]:
        """A reducer fitted on the first ``n`` rows and a new index of their reduced vectors;
        ``self`` unchanged (what ``PendingRefit`` runs beside the service)."""
        reducer = self._fit_reducer(n)
        return reducer, self._new_index(reducer, self._reduce(reducer, n))

    def load(self, data_dir: Path | None) -> None:
        """After a restart: the saved reducer of this index version, else a refit."""
        path = data_dir / f"reducer-v{self.index_version}.pkl" if data_dir else None
        if path is not None and path.exists():
            try:
                self.reducer = SPDR.load(path)
            except Exception as exc:  # derived state: a damaged file is refitted, not fatal
                log.warning("event=reducer_unreadable path=%s error=%r: refitting", path, exc)
                self.index_version -= 1  # refit() moves it on to this version again
                self.refit(data_dir)
                return
            self.rebuild_index(self.reduce_all())
        elif self.rows.n:
            self.refit(data_dir)

    def rebuild_index(self, reduced: np.ndarray) -> None:
        assert self.reducer is not None
        self.cindex = self._new_index(self.reducer, reduced)

    def _new_index(self, reducer: SPDR, reduced: np.ndarray) -> VectorIndex:
        index = create_index(
            reduced.shape[1],
            reducer.metric_,
            ivf_min_items=self.config.ivf_min_items,
            nprobe=self.config.nprobe,
            threads=self.config.threads,
            backend=self.config.search_backend,
            device=self.config.search_device,
            screen_dims=self.config.screen_dims,
            screen_rows=min(self.config.spdr_min_items, SCREEN_RESERVE_ROWS),
        )
        index.rebuild(reduced)
        return index

    def register(self, new_rows: Sequence[int], anchors: Sequence[Anchors] | None = None) -> None:
        """Make appended (or restored) rows findable by their model codes; ``anchors``:
        theirs, when the caller holds them (else they are unpacked from the table)."""
        for i, row in enumerate(new_rows):
            self.codes.add(row, self.rows.anchors[row] if anchors is None else anchors[i])

    def add(self, new_rows: list[int], data_dir: Path | None) -> None:
        """Index appended rows; refit when the index has grown past ``refit_growth``: at
        once, or with ``refit_in_background`` beside the service (``PendingRefit``), the
        current index serving (and taking the new rows) until the new one is ready."""
        n = self.rows.n
        grown = n >= self.config.spdr_min_items and n >= self.fit_size * self.config.refit_growth
        if (
            self.reducer is None
            or self.cindex is None
            or (grown and not self.config.refit_in_background)
        ):
            self.refit(data_dir)
            return
        self.cindex.add(self.reducer.transform(self.weighted(new_rows)))
        pending = self._pending
        if pending is None:
            if grown:
                self._pending = PendingRefit(self, n)
        elif pending.done() or n >= pending.rows * self.config.refit_growth:
            self._install(data_dir)  # (waits only if the index doubled again meanwhile)

    def _install(self, data_dir: Path | None) -> None:
        """The pending refit's reducer and index in place of the current ones, with the rows
        appended since it started; if it failed, a refit here and now."""
        pending, self._pending = self._pending, None
        assert pending is not None
        pending.wait()
        if pending.result is None:
            log.warning("event=background_refit_failed error=%r: refitting now", pending.error)
            self.refit(data_dir)
            return
        reducer, index = pending.result
        n = self.rows.n
        if n > pending.rows:
            index.add(reducer.transform(self.weighted(slice(pending.rows, n))))
        self.reducer, self.cindex = reducer, index
        self.fit_size = pending.rows
        self.index_version += 1
        if data_dir:
            reducer.save(data_dir / f"reducer-v{self.index_version}.pkl")
        log.info(
            "event=refit_installed rows=%d fitted_on=%d seconds=%.1f reducer=%s",
            n,
            pending.rows,
            pending.seconds,
            reducer.describe(),
        )

    def wait_refit(self) -> None:
        """Let a refit running beside the service finish (it is installed by the next
        ``add``; on close it is dropped: derived state, refitted after a restart)."""
        if self._pending is not None:
            self._pending.wait()

    def search(self, weighted: np.ndarray, k: int) -> np.ndarray:
        """Rows of the ``k`` nearest in the index for weighted full ``queries`` (any rows)."""
        assert self.cindex is not None and self.reducer is not None
        _, found = self.cindex.search(self.reducer.transform(weighted), k)
        return np.asarray(found, np.int64)

    # -- canonical candidates ------------------------------------------------------------
    def candidates(self, rows: list[int]) -> np.ndarray:
        """(len(rows), k + code_candidates): the k nearest earlier, live rows of each of
        ``rows``, then earlier rows sharing a title model code; -1 pads.

        The search widens until the k-th earlier hit is strictly better than the worst hit
        returned, and ties (scores rounded to 1e-5) go to the older row.
        """
        assert self.cindex is not None and self.reducer is not None
        k = self.config.k
        full = self.weighted(rows)
        queries = self.reducer.transform(full)
        # A reduced space only proposes: take a wider pool there and keep the k best by the
        # exact weighted score in the full space (at 30k synthetic items, PCA(32) top-16
        # alone kept 0.29 of the duplicate pairs that exact search keeps at 0.77).
        reduced = self.reducer.method_ != "identity"
        pool = k * self.config.rerank_factor if reduced else k
        limit = np.asarray(rows, np.int64)
        out = np.full((len(rows), k + self.config.code_candidates), -1, np.int64)
        sign = -1.0 if self.reducer.metric_ == "ip" else 1.0  # smaller key = nearer
        deleted_set = self.rows.deleted
        deleted = np.fromiter(deleted_set, np.int64, len(deleted_set)) if deleted_set else None
        pending = np.arange(len(rows))
        width = 2 * pool + 1
        below = getattr(self.cindex, "search_below", None)  # a backend may skip later rows
        while len(pending):
            if below is not None and len(rows):
                scores, found = below(queries[pending], width, int(limit.max()))
            else:
                scores, found = self.cindex.search(queries[pending], width)
            found = np.asarray(found, np.int64)
            keys = np.round(sign * np.asarray(scores, np.float64), 5)
            valid = found >= 0
            keep = valid & (found < limit[pending, None])
            if deleted is not None:
                keep &= ~np.isin(found, deleted)
            masked = np.where(keep, keys, np.inf)
            retry = np.zeros(len(pending), bool)
            # fewer hits than asked: the index (e.g. IVF's probed lists) has no more
            if width < self.cindex.ntotal and found.shape[1] >= pool:
                kth = np.partition(masked, pool - 1, axis=1)[:, pool - 1]
                retry = valid.all(axis=1) & (kth >= keys[:, -1])
            done = np.flatnonzero(~retry)
            ids = np.where(keep, found, NO_ROW)[done]
            order = np.lexsort((ids, masked[done]), axis=1)[:, :pool]
            best = np.take_along_axis(ids, order, axis=1)
            best = self._rerank(best, full[pending[done]], k) if reduced else best[:, :k]
            codes = self.rows.codes
            for i, row_best in zip(pending[done].tolist(), best.tolist(), strict=True):
                kept = [b for b in row_best if b != NO_ROW]
                out[i, : len(kept)] = kept
                if codes[rows[i], CODE_SLOTS]:  # the row has a title code
                    extra = self.code_candidates(rows[i], full[i], set(kept))
                    out[i, len(kept) : len(kept) + len(extra)] = extra
            pending = pending[retry]
            width *= 4
        return out

    def code_candidates(self, row: int, query: np.ndarray, taken: set[int]) -> list[int]:
        """Of the earlier rows sharing a title code with ``row``, the ``code_candidates``
        nearest to ``query`` (its weighted full vector), ties to the older."""
        found = self.codes.earlier(row, taken, self.rows.deleted)
        if len(found) <= self.config.code_candidates:
            return sorted(found)
        cand = np.asarray(found, np.int64)
        exact = np.round(self.exact_scores(cand[None, :], query[None, :])[0], 5)
        return cand[np.lexsort((cand, -exact))[: self.config.code_candidates]].tolist()

    def _rerank(self, pool: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
        """The k best of each row's ``pool`` (ascending reduced-space order, ``NO_ROW`` pads)
        by the exact weighted score in the full space, ties to the older row; rows with at
        most k members keep their order."""
        out = pool[:, :k].copy()
        counts = (pool != NO_ROW).sum(axis=1)
        step = max(1, (1 << 22) // max(pool.shape[1] * queries.shape[1], 1))  # ~16 MB batches
        wide = np.flatnonzero(counts > k)
        for lo in range(0, len(wide), step):
            sel = wide[lo : lo + step]
            members = pool[sel]
            safe = np.where(members == NO_ROW, 0, members)
            exact = np.round(self.exact_scores(safe, queries[sel]), 5)
            exact[members == NO_ROW] = -np.inf
            order = np.lexsort((members, -exact), axis=1)[:, :k]
            out[sel] = np.take_along_axis(members, order, axis=1)
        return out

    def describe(self) -> tuple[str, str]:
        """(reducer, index) for ``IndexInfo``."""
        reducer = self.reducer.describe() if self.reducer else "unfitted"
        return reducer, (self.cindex.describe() if self.cindex else "empty")


class PendingRefit:
    """A refit of the first ``rows`` rows in a thread of its own: the reducer's fit, the
    reduced vectors and the new index are numpy, BLAS and FAISS work that mostly runs
    without the GIL, so a server goes on answering on the other core instead of stopping
    for it (10 s at 20k rows on 2 cores; the stop grows with the index). The rows it reads
    are appended-only and never change, so reading them beside the service is safe."""

    def __init__(self, generator: CandidateGenerator, rows: int) -> None:
        self.rows = rows
        self.result: tuple[SPDR, VectorIndex] | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(
            target=self._run, args=(generator,), daemon=True, name="fitrep-refit"
        )
        log.info("event=refit_started rows=%d (beside the service)", rows)
        self._thread.start()

    def _run(self, generator: CandidateGenerator) -> None:
        started = time.perf_counter()
        try:
            self.result = generator.fitted_index(self.rows)
        except BaseException as exc:  # handed to ``_install``, which refits in place
            self.error = exc
        self.seconds = time.perf_counter() - started

    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self) -> None:
        self._thread.join()
