"""IndexEngine: integration + SPDR + FAISS retrieval + verification + FBC + the store.

The one object both the gRPC servicer and the in-process Pipeline drive. Single writer:
callers serialise mutating calls (the servicer holds a lock; the Pipeline is one thread).
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from fitrep.domain import (
    Anchors,
    Assignment,
    Cluster,
    EmbeddedItem,
    Explanation,
    IndexInfo,
    InvalidInput,
    Level,
    Neighbor,
    NotFound,
)

from index_server import __version__
from index_server.candidates.spdr import SPDR
from index_server.candidates.vector_index import CandidateIndex
from index_server.clustering.fbc import FBC, Decision, format_cluster_id, parse_cluster_id
from index_server.config import IndexConfig
from index_server.integration import (
    LevelLayout,
    concatenate,
    infer_layout,
    integrate,
    weight_vector,
)
from index_server.scoring.bounds import CODE_SLOTS, ChunkScores, code_keys, level_presence
from index_server.scoring.calibration import Calibration
from index_server.scoring.lexical import FEATURES, LexicalRows, LexicalStats
from index_server.scoring.verifier import PairScores, PairVerifier
from index_server.storage.decision_log import DecisionLog
from index_server.storage.packed_anchors import PackedAnchors
from index_server.storage.store import ClusterStore, StoredItem

Progress = Callable[[str, int, int], None]
_CHUNK = 512  # rows decided between progress reports
_NO_ROW = np.iinfo(np.int64).max  # sorts after every row id


class IndexEngine:
    """See module docstring. ``data_dir=None`` keeps everything in memory."""

    def __init__(self, data_dir: Path | None = None, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.data_dir = Path(data_dir) if data_dir is not None else self.config.data_dir
        self.calibration = Calibration.load(self.config.calibration)
        self.store = ClusterStore(self.data_dir / "store.sqlite" if self.data_dir else None)
        self.fbc = FBC(
            self.calibration.threshold, self.config.max_checked, self.config.min_member_share
        )
        self.lock = threading.RLock()
        self.layout: LevelLayout | None = None
        self.verifier: PairVerifier | None = None
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self._vectors = np.zeros((0, 0), np.float16)  # capacity >= n rows; see ``vectors``
        self._present = np.zeros((0, 0), bool)  # (capacity, L) which levels each row has
        self._codes = code_keys([])  # (capacity, slots + 1) model-code keys per row
        # model code -> rows that mention it: a second candidate channel (blocking on codes),
        # since embeddings barely tell "me5085y" from "me5086y"
        self._code_rows: dict[str, list[int]] = {}
        self.anchors = PackedAnchors()  # per row, unpacked only for verified pairs
        self.images: list[dict[str, np.ndarray]] = []
        self.lexical = LexicalRows()  # interned title tokens: chunk-wide token features
        self.decisions = DecisionLog(self.ids)  # every row's assignment, in columns
        self.deleted: set[int] = set()
        self.aliases: dict[int, int] = {}
        self.reducer: SPDR | None = None
        self.cindex: CandidateIndex | None = None
        self.index_version = 0
        self._fit_size = 0
        self._load()

    # -- state -----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def vectors(self) -> np.ndarray:
        """(n, D) float16 unweighted full vectors, a view of a buffer grown by doubling."""
        return self._vectors[: self.n]

    @property
    def present(self) -> np.ndarray:
        return self._present[: self.n]

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._vectors):
            return
        capacity = max(rows, 2 * len(self._vectors), 1024)
        for name in ("_vectors", "_present", "_codes"):
            old = getattr(self, name)
            grown = np.zeros((capacity, old.shape[1]), old.dtype)
            grown[: self.n] = old[: self.n]
            setattr(self, name, grown)

    def _set_layout(self, layout: LevelLayout) -> None:
        self.layout = layout
        self.verifier = PairVerifier(self.calibration, layout, LexicalStats(self.lexical))
        self._vectors = np.zeros((0, layout.total), np.float16)
        self._present = np.zeros((0, len(layout.dims)), bool)

    def _layout_for(self, items: Sequence[EmbeddedItem]) -> LevelLayout:
        if self.layout is not None:
            return self.layout
        layout = infer_layout([item.embeddings for item in items])
        self._set_layout(layout)
        return layout

    def _append(self, items: Sequence[EmbeddedItem], full: np.ndarray) -> list[int]:
        assert self.layout is not None
        start = self.n
        self._reserve(start + len(items))
        self._vectors[start : start + len(items)] = full
        self._present[start : start + len(items)] = level_presence(full, self.layout)
        self._codes[start : start + len(items)] = code_keys(
            [item.concepts.anchors for item in items]
        )
        for offset, item in enumerate(items):
            self.ids.append(item.item_id)
            self.row_of[item.item_id] = start + offset
            self.anchors.append(item.concepts.anchors)
            self.images.append(item.concepts.image_features)
            self._index_codes(start + offset, item.concepts.anchors)
        self.lexical.extend(item.concepts.anchors for item in items)
        return list(range(start, self.n))

    def _index_codes(self, row: int, anchors: Anchors) -> None:
        for code in dict.fromkeys([*anchors.code, *(anchors.code_any or ())]):
            self._code_rows.setdefault(code, []).append(row)

    def _code_candidates(self, row: int, query: np.ndarray, taken: set[int]) -> list[int]:
        """Earlier live rows sharing one of ``row``'s title codes: of the most recent 64, the
        ``code_candidates`` nearest to ``query`` (its weighted full vector), ties to the older.
        """
        found: list[int] = []
        for code in self.anchors[row].code:
            rows = self._code_rows.get(code, [])
            end = bisect.bisect_left(rows, row)  # rows are appended in order: sorted
            for other in reversed(rows[max(0, end - 64) : end]):
                if other not in taken and other not in self.deleted:
                    taken.add(other)
                    found.append(other)
        if len(found) <= self.config.code_candidates:
            return sorted(found)
        cand = np.asarray(found, np.int64)
        exact = np.round(self._exact_scores(cand[None, :], query[None, :])[0], 5)
        return cand[np.lexsort((cand, -exact))[: self.config.code_candidates]].tolist()

    def _exact_scores(self, rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """(m, p) weighted full-space scores of stored ``rows`` (m, p) against weighted
        ``queries`` (m, D): the weights move to the query side (sqrt(w) twice = w), so the
        stored rows are only converted from float16, never re-weighted."""
        assert self.layout is not None
        scaled = queries * weight_vector(self.layout, self.calibration.weights)
        stored = self.vectors[rows.ravel()].astype(np.float32).reshape(*rows.shape, -1)
        return np.einsum("mpd,md->mp", stored, scaled)

    def _weighted(self, rows: slice | Sequence[int] | np.ndarray) -> np.ndarray:
        assert self.layout is not None
        return integrate(
            self.vectors[rows].astype(np.float32), self.layout, self.calibration.weights
        )

    # -- retrieval index -------------------------------------------------------------------
    def _refit(self, progress: Progress | None = None) -> None:
        """Fit SPDR on all live items and rebuild the candidate index (new index version).
        Cluster ids do not change: retrieval only proposes candidates."""
        live = self._weighted(slice(0, self.n))
        if progress:
            progress("reduce", 0, self.n)
        cfg = self.config
        self.reducer = SPDR(
            method=cfg.spdr_method,
            n_components=cfg.spdr_components,
            min_items=cfg.spdr_min_items,
            max_fit_items=cfg.spdr_max_fit_items,
        ).fit(live)
        self._rebuild_index(self.reducer.transform(live))
        self._fit_size = self.n
        self.index_version += 1
        if self.data_dir:
            self.reducer.save(self.data_dir / f"reducer-v{self.index_version}.pkl")
        if progress:
            progress("reduce", self.n, self.n)

    def _rebuild_index(self, reduced: np.ndarray) -> None:
        assert self.reducer is not None
        self.cindex = CandidateIndex(
            reduced.shape[1],
            self.reducer.metric_,
            ivf_min_items=self.config.ivf_min_items,
            nprobe=self.config.nprobe,
            threads=self.config.threads,
            backend=self.config.search_backend,
            device=self.config.search_device,
        )
        self.cindex.rebuild(reduced)

    def _index_new_rows(self, rows: list[int]) -> None:
        grown = (
            self.n >= self.config.spdr_min_items
            and self.n >= self._fit_size * self.config.refit_growth
        )
        if self.reducer is None or self.cindex is None or grown:
            self._refit()
            return
        self.cindex.add(self.reducer.transform(self._weighted(rows)))

    def _candidates(self, rows: list[int]) -> np.ndarray:
        """(len(rows), k + code_candidates): the k nearest earlier, live rows of each of
        ``rows``, then earlier rows sharing a title model code; -1 pads.

        Canonical whatever else is in the index: the search widens until the k-th earlier hit
        is strictly better than the worst hit returned, and ties (scores rounded to 1e-5) go
        to the older row. So a row gets the same candidates in a batch build, where later
        items are indexed too, as in incremental assignment: build == assign.
        """
        assert self.cindex is not None and self.reducer is not None
        k = self.config.k
        full = self._weighted(rows)
        queries = self.reducer.transform(full)
        # A reduced space only proposes: take a wider pool there and keep the k best by the
        # exact weighted score in the full space (at 30k synthetic items, PCA(32) top-16
        # alone kept 0.29 of the duplicate pairs that exact search keeps at 0.77).
        reduced = self.reducer.method_ != "identity"
        pool = k * self.config.rerank_factor if reduced else k
        limit = np.asarray(rows, np.int64)
        out = np.full((len(rows), k + self.config.code_candidates), -1, np.int64)
        sign = -1.0 if self.reducer.metric_ == "ip" else 1.0  # smaller key = nearer
        deleted = np.fromiter(self.deleted, np.int64, len(self.deleted)) if self.deleted else None
        pending = np.arange(len(rows))
        width = 2 * pool + 1
        while len(pending):
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
            ids = np.where(keep, found, _NO_ROW)[done]
            order = np.lexsort((ids, masked[done]), axis=1)[:, :pool]
            best = np.take_along_axis(ids, order, axis=1)
            best = self._rerank(best, full[pending[done]], k) if reduced else best[:, :k]
            for i, row_best in zip(pending[done].tolist(), best.tolist(), strict=True):
                kept = [b for b in row_best if b != _NO_ROW]
                out[i, : len(kept)] = kept
                if self._codes[rows[i], CODE_SLOTS]:  # the row has a title code
                    extra = self._code_candidates(rows[i], full[i], set(kept))
                    out[i, len(kept) : len(kept) + len(extra)] = extra
            pending = pending[retry]
            width *= 4
        return out

    def _rerank(self, pool: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
        """The k best of each row's ``pool`` (ascending reduced-space order, ``_NO_ROW`` pads)
        by the exact weighted score in the full space, ties to the older row; rows with at
        most k members keep their order."""
        out = pool[:, :k].copy()
        counts = (pool != _NO_ROW).sum(axis=1)
        step = max(1, (1 << 22) // max(pool.shape[1] * queries.shape[1], 1))  # ~16 MB batches
        wide = np.flatnonzero(counts > k)
        for lo in range(0, len(wide), step):
            sel = wide[lo : lo + step]
            members = pool[sel]
            safe = np.where(members == _NO_ROW, 0, members)
            exact = np.round(self._exact_scores(safe, queries[sel]), 5)
            exact[members == _NO_ROW] = -np.inf
            order = np.lexsort((members, -exact), axis=1)[:, :k]
            out[sel] = np.take_along_axis(members, order, axis=1)
        return out

    # -- scoring ---------------------------------------------------------------------------
    def _pair_scores(self, row: int, others: Sequence[int]) -> PairScores:
        """Verify stored ``row`` against stored ``others`` in the full space."""
        assert self.verifier is not None
        idx = list(others)
        return self.verifier.score(
            self.vectors[row].astype(np.float32),
            self.anchors[row],
            self.vectors[idx].astype(np.float32),
            [self.anchors[o] for o in idx],
            self.images[row],
            [self.images[o] for o in idx],
        )

    def _score(self, row: int, others: Sequence[int]) -> np.ndarray:
        return self._pair_scores(row, others).probability

    def _chunk_score(
        self,
        scores: ChunkScores,
        lexical: Mapping[str, np.ndarray],
        i: int,
        row: int,
        others: Sequence[int],
    ) -> np.ndarray:
        """``_score`` for item ``i`` of a chunk: its candidates' level cosines and token
        features are already computed there; other rows (cluster members that were not
        retrieved) go through ``_score``."""
        assert self.verifier is not None
        positions = [scores.position(i, o) for o in others]
        if any(p is None for p in positions):
            return self._score(row, others)
        pos = np.asarray(positions, np.int64)
        known = [{name: float(lexical[name][i, p]) for name in FEATURES} for p in pos.tolist()]
        return self.verifier.score_levels(
            scores.cos[i, pos],
            scores.present[i, pos],
            self.anchors[row],
            [self.anchors[o] for o in others],
            self.images[row],
            [self.images[o] for o in others],
            known,
        ).probability

    # -- public API ------------------------------------------------------------------------
    def assign(
        self, items: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Incremental assignment; idempotent per item id."""
        with self.lock:
            return self._assign(items, refit=False, progress=progress)

    def build(
        self, items: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Batch: add all items, fit SPDR on everything, then cluster in input order."""
        with self.lock:
            return self._assign(items, refit=True, progress=progress)

    def _assign(
        self, items: Sequence[EmbeddedItem], refit: bool, progress: Progress | None
    ) -> list[Assignment]:
        for i, item in enumerate(items):
            if not item.item_id:
                raise InvalidInput(f"items[{i}].concepts.item_id", "must not be empty")
        fresh: dict[str, EmbeddedItem] = {}
        for item in items:
            if item.item_id not in self.row_of and item.item_id not in fresh:
                fresh[item.item_id] = item
        new_items = list(fresh.values())
        if progress:
            progress("received", len(items), len(items))
        if new_items:
            layout = self._layout_for(new_items)
            full = concatenate([it.embeddings for it in new_items], layout)
            rows = self._append(new_items, full)
            if refit:
                self._refit(progress)
            else:
                self._index_new_rows(rows)
            self._decide(rows, progress)
            self._persist(rows, new_items)
        return [self.decisions[self.row_of[item.item_id]] for item in items]

    def _decide(self, rows: list[int], progress: Progress | None) -> None:
        """FBC in arrival order; the pair scores of each chunk are computed together."""
        assert self.verifier is not None and self.layout is not None
        levels = self.layout.levels
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            chunk_rows, cands = np.asarray(chunk, np.int64), self._candidates(chunk)
            lexical = self.lexical.chunk_features(chunk_rows, cands)
            scores = ChunkScores(
                self.verifier,
                self.vectors,
                self.present,
                self._codes[: self.n],
                self.images,
                chunk_rows,
                cands,
                lexical,
            )
            # Bounds pay off only when they rule pairs out; when most pairs could pass (a
            # calibration led by lexical features), score every candidate as before.
            prunes = scores.pruned_share(self.verifier.threshold) >= 0.5
            for i, row in enumerate(chunk):
                self.verifier.stats.extend_to(self.anchors, row + 1)
                upper = scores.upper_bounds(i) if prunes else None
                score = functools.partial(self._chunk_score, scores, lexical.exact, i)
                d = self.fbc.decide(row, scores.candidates(i), score, upper)
                per_level: dict[Level, float] = {}
                if d.nearest_row >= 0:
                    cos = scores.per_level(i, d.nearest_row).tolist()
                    present = scores.present[i, scores.position(i, d.nearest_row)].tolist()
                    per_level = {lv: c for lv, c, p in zip(levels, cos, present, strict=True) if p}
                self._record(row, d, per_level)
            if progress:
                progress("cluster", min(start + _CHUNK, len(rows)), len(rows))

    def _record(self, row: int, d: Decision, per_level: dict[Level, float]) -> None:
        """Append the Assignment of a decided ``row`` (rows are decided in order)."""
        confidence = d.probability if not d.is_new else 1.0 - d.best_pair
        self.decisions.record(
            d.cluster, d.nearest_row, d.best_pair, float(confidence), d.is_new, per_level
        )

    def _persist(self, rows: list[int], items: Sequence[EmbeddedItem]) -> None:
        assert self.layout is not None
        stored = []
        for row, item in zip(rows, items, strict=True):
            a = self.decisions[row]
            stored.append(
                StoredItem(
                    row=row,
                    item_id=a.item_id,
                    cluster=self.fbc.cluster_of[row],
                    vector=self.vectors[row],
                    levels={lv.name: list(v) for lv, v in item.concepts.levels.items()},
                    anchors=self.anchors[row],
                    image_features=item.concepts.image_features,
                    nearest=a.nearest_item_id,
                    similarity=a.similarity,
                    confidence=a.confidence,
                    is_new=a.is_new_cluster,
                )
            )
        self.store.commit(
            stored,
            meta={
                "layout": self.layout.to_json(),
                "next_cluster": self.fbc.next_id,
                "index_version": self.index_version,
                "fit_size": self._fit_size,
            },
        )

    def _load(self) -> None:
        meta = self.store.get_meta()
        if "layout" not in meta:
            return
        self._set_layout(LevelLayout.from_json(meta["layout"]))
        assert self.layout is not None
        vectors: list[np.ndarray] = []
        for it in self.store.iter_items(self.layout.total):
            self.ids.append(it.item_id)
            self.row_of[it.item_id] = it.row
            self.anchors.append(it.anchors)
            self.lexical.extend((it.anchors,))
            self._index_codes(it.row, it.anchors)
            self.images.append(it.image_features)
            vectors.append(it.vector)
            self.fbc.restore(it.row, it.cluster)
            if it.deleted:
                self.deleted.add(it.row)
                self.fbc.remove(it.row)
            self.decisions.record(
                it.cluster,
                self.row_of.get(it.nearest, -1) if it.nearest else -1,
                it.similarity,
                it.confidence,
                it.is_new,
            )
        if vectors:
            self._vectors = np.stack(vectors)
            self._present = level_presence(self._vectors, self.layout)
            self._codes = code_keys(self.anchors)
        self.fbc.next_id = max(self.fbc.next_id, int(meta.get("next_cluster", 1)))
        self.aliases = self.store.aliases()
        self.index_version = int(meta.get("index_version", 0))
        self._fit_size = int(meta.get("fit_size", 0))
        reducer_path = (
            self.data_dir / f"reducer-v{self.index_version}.pkl" if self.data_dir else None
        )
        if reducer_path is not None and reducer_path.exists():
            self.reducer = SPDR.load(reducer_path)
            self._rebuild_index(self.reducer.transform(self._weighted(slice(0, self.n))))
        elif self.n:
            self._refit()

    def _row(self, item_id: str) -> int:
        row = self.row_of.get(item_id)
        if row is None or row in self.deleted:
            raise NotFound("item", item_id)
        return row

    def _resolve(self, cluster: int) -> int:
        while cluster in self.aliases:
            cluster = self.aliases[cluster]
        return cluster

    def explain(self, item_a: str, item_b: str) -> Explanation:
        with self.lock:
            a, b = self._row(item_a), self._row(item_b)
            assert self.verifier is not None
            self.verifier.stats.extend_to(self.anchors)  # e.g. right after a restart
            s = self._pair_scores(a, [b])
            p = float(s.probability[0])
            return Explanation(
                item_a=item_a,
                item_b=item_b,
                score=p,
                threshold=self.verifier.threshold,
                duplicate=p >= self.verifier.threshold,
                per_level=self.verifier.level_scores(s, 0),
                gates=self.verifier.gates(s, 0),
                cluster_a=format_cluster_id(self._resolve(self.fbc.cluster_of[a])),
                cluster_b=format_cluster_id(self._resolve(self.fbc.cluster_of[b])),
                features=self.verifier.feature_row(s, 0),
            )

    def concepts_of(self, item_id: str) -> dict[str, list[str]]:
        """Concept strings by level name, read from the store (not kept in memory)."""
        return self.store.levels_of(self._row(item_id))

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[EmbeddedItem] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored items (by id) or of new items (not stored)."""
        with self.lock:
            if self.cindex is None or self.reducer is None or self.layout is None:
                return [(q, []) for q in [*item_ids, *(it.item_id for it in items)]]
            queries: list[tuple[str, np.ndarray, Anchors, dict[str, np.ndarray], int]] = []
            for item_id in item_ids:
                row = self._row(item_id)
                queries.append(
                    (
                        item_id,
                        self.vectors[row].astype(np.float32),
                        self.anchors[row],
                        self.images[row],
                        row,
                    )
                )
            if items:
                full = concatenate([it.embeddings for it in items], self.layout)
                for it, vec in zip(items, full, strict=True):
                    queries.append(
                        (it.item_id, vec, it.concepts.anchors, it.concepts.image_features, -1)
                    )
            if not queries:
                return []
            assert self.verifier is not None
            self.verifier.stats.extend_to(self.anchors)
            qv = np.stack([q[1] for q in queries])
            weighted = integrate(qv, self.layout, self.calibration.weights)
            _, found = self.cindex.search(self.reducer.transform(weighted), k + 1)
            results: list[tuple[str, list[Neighbor]]] = []
            for (qid, vec, anchors, image, self_row), hits in zip(queries, found, strict=True):
                rows = [int(h) for h in hits if h >= 0 and h != self_row and h not in self.deleted][
                    :k
                ]
                if not rows:
                    results.append((qid, []))
                    continue
                probs = self.verifier.score(
                    vec,
                    anchors,
                    self.vectors[rows].astype(np.float32),
                    [self.anchors[r] for r in rows],
                    image,
                    [self.images[r] for r in rows],
                ).probability
                order = np.argsort(-probs)
                results.append(
                    (
                        qid,
                        [
                            Neighbor(
                                self.ids[rows[i]],
                                format_cluster_id(self._resolve(self.fbc.cluster_of[rows[i]])),
                                float(probs[i]),
                            )
                            for i in order
                        ],
                    )
                )
            return results

    def get_cluster(self, cluster_id: str) -> Cluster:
        with self.lock:
            try:
                number = parse_cluster_id(cluster_id)
            except ValueError:
                raise InvalidInput("cluster_id", f"{cluster_id!r} is not a cluster id") from None
            canonical = self._resolve(number)
            members = self.fbc.members.get(canonical)
            if not members:
                raise NotFound("cluster", cluster_id)
            aliases = [
                format_cluster_id(a)
                for a, t in self.aliases.items()
                if self._resolve(t) == canonical
            ]
            return Cluster(format_cluster_id(canonical), [self.ids[r] for r in members], aliases)

    def delete(self, item_ids: Sequence[str]) -> int:
        with self.lock:
            rows = [self.row_of[i] for i in dict.fromkeys(item_ids) if i in self.row_of]
            rows = [r for r in rows if r not in self.deleted]
            for row in rows:
                self.deleted.add(row)
                self.fbc.remove(row)
            if rows:
                self.store.commit(deleted_rows=rows)
            return len(rows)

    def snapshot(self, path: Path) -> tuple[Path, int]:
        with self.lock:
            path = Path(path)
            path.mkdir(parents=True, exist_ok=True)
            self.store.backup(path / "store.sqlite")
            if self.reducer is not None:
                self.reducer.save(path / f"reducer-v{self.index_version}.pkl")
            return path, self.n - len(self.deleted)

    def info(self) -> IndexInfo:
        with self.lock:
            return IndexInfo(
                items=self.n - len(self.deleted),
                clusters=len(self.fbc.members),
                reducer=self.reducer.describe() if self.reducer else "unfitted",
                faiss_index=self.cindex.describe() if self.cindex else "empty",
                index_version=self.index_version,
                level_weights={lv.name: w for lv, w in self.calibration.weights.items()},
                threshold=self.calibration.threshold,
                server_version=__version__,
            )

    def reducer_report(self) -> dict[str, object]:
        return dict(getattr(self.reducer, "report_", {}))

    def close(self) -> None:
        with self.lock:
            self.store.close()
