"""IndexEngine: the index tier's facade over its pipeline stages.

rows (``storage.rows``) -> candidates (``candidates.generator``: SPDR + vector index + code
blocking) -> scoring (``scoring.row_scorer``: the calibrated verifier) -> clustering
(``clustering.clusterer``: FBC's join rule, cluster ids) -> store (``storage.store``); reads
(explain, query, get_cluster, info) are answered by ``queries.IndexReader``. The one object
both the gRPC servicer and the in-process Pipeline drive. Single writer: every call holds the
engine's one lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from fitrep.domain import Assignment, Cluster, EmbeddedItem, Explanation, IndexInfo, Neighbor

from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.clusterer import Clusterer
from index_server.clustering.fbc import FBC
from index_server.config import IndexConfig
from index_server.integration import LevelLayout, concatenate, infer_layout
from index_server.queries import IndexReader
from index_server.scoring.calibration import Calibration
from index_server.scoring.lexical import LexicalStats
from index_server.scoring.row_scorer import RowScorer
from index_server.scoring.verifier import PairVerifier
from index_server.storage.decision_log import DecisionLog
from index_server.storage.dir_lock import DataDirLock
from index_server.storage.persistence import load_engine_state, persist_rows
from index_server.storage.rows import RowTable
from index_server.storage.snapshot import check_snapshot, write_snapshot
from index_server.storage.store import ClusterStore
from index_server.validation import check_batch

Progress = Callable[[str, int, int], None]


class IndexEngine:
    """See module docstring. ``data_dir=None`` keeps everything in memory."""

    def __init__(self, data_dir: Path | None = None, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.data_dir = Path(data_dir) if data_dir is not None else self.config.data_dir
        self.calibration = Calibration.load(self.config.calibration)
        self.dir_lock = DataDirLock(self.data_dir) if self.data_dir else None
        try:
            if self.data_dir:
                check_snapshot(self.data_dir)
            self.store = ClusterStore(self.data_dir / "store.sqlite" if self.data_dir else None)
        except BaseException:
            self._release_lock()
            raise
        self.lock = threading.RLock()
        self._load()

    def _load(self) -> None:
        """Memory state from the store: at start-up, and to roll back a failed batch.

        A batch touches the rows, the candidate channels, the idf statistics, FBC and the
        decision log before it is committed; rather than undo each of them, a batch that
        fails before its commit (SQLite rolls its own transaction back) reloads everything
        from the store, which holds exactly the committed batches: the restart path.
        """
        self.rows = RowTable()
        self.candidates = CandidateGenerator(self.rows, self.config, self.calibration.weights)
        self.scorer: RowScorer | None = None
        self.encoder = ""  # the encoder the index's vectors come from; "" when not recorded
        cfg = self.config
        fbc = FBC(
            self.calibration.threshold,
            cfg.max_checked,
            cfg.min_member_share,
            rep_share=cfg.core_share,
            core=cfg.core,
        )
        self.clusterer = Clusterer(fbc, DecisionLog(self.rows.ids))
        load_engine_state(self)

    # -- shorthands for the parts ----------------------------------------------------------
    @property
    def n(self) -> int:
        return self.rows.n

    @property
    def layout(self) -> LevelLayout | None:
        return self.rows.layout

    @property
    def verifier(self) -> PairVerifier:
        return self._reader().verifier

    @property
    def fbc(self) -> FBC:
        return self.clusterer.fbc

    def set_layout(self, layout: LevelLayout) -> None:
        self.rows.set_layout(layout)
        verifier = PairVerifier(self.calibration, layout, LexicalStats(self.rows.lexical))
        self.scorer = RowScorer(self.rows, verifier)

    # -- writing ---------------------------------------------------------------------------
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
        row_of, deleted = self.rows.row_of, self.rows.deleted
        gone = {it.item_id for it in items if row_of.get(it.item_id, -1) in deleted}
        check_batch(items, self.rows.layout, self.encoder, gone)
        fresh: dict[str, EmbeddedItem] = {}
        for item in items:
            if item.item_id not in row_of and item.item_id not in fresh:
                fresh[item.item_id] = item
        new_items = list(fresh.values())
        if progress:
            progress("received", len(items), len(items))
        if new_items:
            try:
                self._add(new_items, refit, progress)
            except BaseException:
                self._load()  # all or nothing: back to the last committed batch
                raise
        decisions = self.clusterer.decisions
        return [decisions[self.rows.row_of[item.item_id]] for item in items]

    def _add(self, new_items: list[EmbeddedItem], refit: bool, progress: Progress | None) -> None:
        if self.rows.layout is None:
            self.set_layout(infer_layout([item.embeddings for item in new_items]))
            self.encoder = next(
                (it.embeddings.encoder for it in new_items if it.embeddings.encoder), ""
            )
        assert self.rows.layout is not None and self.scorer is not None
        full = concatenate([it.embeddings for it in new_items], self.rows.layout)
        rows = self.rows.append(new_items, full)
        self.candidates.register(rows)
        if refit:
            self.candidates.refit(self.data_dir, progress)
        else:
            self.candidates.add(rows, self.data_dir)
        self.clusterer.decide(
            rows, self.candidates.candidates, self.scorer, self.rows.layout.levels, progress
        )
        persist_rows(self, rows, new_items)

    def delete(self, item_ids: Sequence[str]) -> int:
        with self.lock:
            row_of, deleted = self.rows.row_of, self.rows.deleted
            rows = [row_of[i] for i in dict.fromkeys(item_ids) if i in row_of]
            rows = [r for r in rows if r not in deleted]
            for row in rows:
                deleted.add(row)
                self.fbc.remove(row)
            if rows:
                self.store.commit(deleted_rows=rows)
            return len(rows)

    def snapshot(self, path: Path) -> tuple[Path, int]:
        """A consistent copy of the index at ``path``, written atomically (``storage.snapshot``)."""
        with self.lock:

            def write(tmp: Path) -> None:
                self.store.backup(tmp / "store.sqlite")
                reducer = self.candidates.reducer
                if reducer is not None:
                    reducer.save(tmp / f"reducer-v{self.candidates.index_version}.pkl")

            return write_snapshot(Path(path), write, self.rows.live), self.rows.live

    # -- reading (``queries.IndexReader``) --------------------------------------------------
    def _reader(self) -> IndexReader:
        """The read side over the current parts; call with the lock held."""
        return IndexReader(
            self.rows, self.candidates, self.scorer, self.clusterer, self.calibration, self.encoder
        )

    def explain(self, item_a: str, item_b: str) -> Explanation:
        with self.lock:
            return self._reader().explain(item_a, item_b)

    def concepts_of(self, item_id: str) -> dict[str, list[str]]:
        """Concept strings by level name, read from the store (not kept in memory)."""
        return self.store.levels_of(self.rows.row(item_id))

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[EmbeddedItem] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored items (by id) or of new items (not stored)."""
        with self.lock:
            return self._reader().query(item_ids, items, k)

    def get_cluster(self, cluster_id: str) -> Cluster:
        with self.lock:
            return self._reader().get_cluster(cluster_id)

    def info(self) -> IndexInfo:
        with self.lock:
            return self._reader().info()

    def reducer_report(self) -> dict[str, object]:
        return self._reader().reducer_report()

    def close(self) -> None:
        with self.lock:
            self.store.close()
            self._release_lock()

    def _release_lock(self) -> None:
        if self.dir_lock is not None:
            self.dir_lock.release()
            self.dir_lock = None
