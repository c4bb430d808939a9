"""IndexEngine: the index tier's facade over its pipeline stages.

rows (``rows.table``) -> candidates (``candidates.generator``: SPDR + vector index + code
blocking) -> scoring (``scoring.row_scorer``: the calibrated verifier) -> clustering
(``clustering.clusterer``: the join rule, cluster ids) -> store (``storage.cluster_store``); reads
(explain, query, get_cluster, info) are answered by ``queries.IndexReader``. The one object
both the gRPC servicer and the in-process Pipeline drive. Single writer: every call holds the
engine's one lock.

Assign is an upsert per item id (``upserts``): a changed item gets a new row, its old row is
removed from its cluster first, and the new one is judged like a new item. Representatives
(``clustering.representative``) are derived from the members; the calls that change them
report and log the change. The state all of this works on is an ``IndexState``, which
``state_store`` fills from the store and commits back.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from fitrep.domain import (
    Assignment,
    AssignResult,
    Cluster,
    EmbeddedItem,
    Explanation,
    IndexInfo,
    Neighbor,
    RepresentativeChange,
)

from index_server import state_store
from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.clusterer import Clusterer
from index_server.clustering.join_rule import JoinRule
from index_server.clustering.representative import Representatives
from index_server.config import IndexConfig
from index_server.integration import LevelLayout, concatenate, infer_layout
from index_server.queries import IndexReader
from index_server.rows.table import RowTable
from index_server.scoring.calibration import Calibration
from index_server.scoring.catalogue_fit import SelfCalibration
from index_server.scoring.row_scorer import RowScorer
from index_server.scoring.scorer import PairScorer
from index_server.state import IndexState
from index_server.storage.cluster_store import STORE_FILE, ClusterStore
from index_server.storage.digest import item_digest
from index_server.storage.dir_lock import DataDirLock
from index_server.storage.faults import CorruptStore, is_disk_full, no_space, restore_advice
from index_server.storage.snapshot import check_snapshot, write_snapshot
from index_server.storage.store import SqliteStore
from index_server.storage.vector_file import VECTOR_FILE, VectorFile
from index_server.upserts import BatchPlan, Upsert, plan_batch
from index_server.validation import check_batch

# rows a batch stores at a time (its float32 vectors are concatenated block by block)
STORE_BLOCK = 1 << 15

Progress = Callable[[str, int, int], None]
if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

log = logging.getLogger("fitrep.index")
# the thread pools of BLAS and OpenMP (threadpoolctl), with the count of modules when it was made
_POOLS: tuple[int, ThreadpoolController] | None = None


class IndexEngine:
    """See module docstring. ``data_dir=None`` keeps everything in memory."""

    def __init__(self, data_dir: Path | None = None, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.data_dir = Path(data_dir) if data_dir is not None else self.config.data_dir
        self.policy = self.config.policy
        self.calibration = Calibration.load(self.config.calibration)
        # what the engine did since start (metrics): added, updated, moved, unchanged,
        # representative_changes, disk_full
        self.counts: Counter[str] = Counter()
        self.dir_lock = DataDirLock(self.data_dir) if self.data_dir else None
        self.state = IndexState(self.config, self.calibration, self.data_dir, self.policy)
        try:
            if self.data_dir:
                check_snapshot(self.data_dir)
            self.store: ClusterStore = SqliteStore(
                self.data_dir / STORE_FILE if self.data_dir else None
            )
            self.lock = threading.RLock()
            self._load()
            recorded = self.store.get_meta().get("representative", str(self.policy))
            if recorded != str(self.policy):
                log.info("event=representative_policy from=%s to=%s", recorded, self.policy)
        except CorruptStore as exc:
            self._close_after_failed_start()
            raise CorruptStore(f"{exc}; {restore_advice(self.data_dir)}") from None
        except BaseException:
            self._close_after_failed_start()
            raise

    def _close_after_failed_start(self) -> None:
        self.state.close_vectors()
        if hasattr(self, "store"):
            self.store.close()
        self._release_lock()

    def _load(self) -> None:
        """Memory state from the store: at start-up, and to roll back a failed batch.

        A batch touches the rows, the candidate channels, the idf statistics, the clusters
        and the decision log before it is committed; rather than undo each of them, a batch
        that fails before its commit (SQLite rolls its own transaction back) reloads
        everything from the store, which holds exactly the committed batches: the restart
        path (the vector file is cut back to the committed rows when it is opened again).
        """
        old = self.state
        # a refit beside the service may be reading the failed batch's rows, which reopening
        # the vector file cuts off: it finishes first (its result is dropped with the state)
        old.candidates.wait_refit()
        old.close_vectors()
        self.calibration = self._calibration_for(str(self.store.get_meta().get("encoder", "")))
        self.state = IndexState(self.config, self.calibration, self.data_dir, self.policy)
        self.state.vectors = old.vectors  # in-memory records (None when they were a file)
        state_store.load(self.state, self.store)

    def _calibration_for(self, encoder: str) -> Calibration:
        """The configured calibration, else the shipped one fitted on ``encoder``'s vectors
        (the index's, known from its store or its first batch): a coefficient reads one
        encoder's cosines."""
        if self.config.calibration is not None:
            if encoder and self.calibration.encoder and encoder != self.calibration.encoder:
                log.warning(
                    "event=calibration_encoder_mismatch calibration=%s vectors=%s",
                    self.calibration.encoder,
                    encoder,
                )
            return self.calibration
        if not encoder or encoder == self.calibration.encoder:
            return self.calibration
        return Calibration.load(encoder=encoder)

    # -- shorthands for the parts ----------------------------------------------------------
    @property
    def rows(self) -> RowTable:
        return self.state.rows

    @property
    def candidates(self) -> CandidateGenerator:
        return self.state.candidates

    @property
    def clusterer(self) -> Clusterer:
        return self.state.clusterer

    @property
    def rule(self) -> JoinRule:
        return self.state.rule

    @property
    def representatives(self) -> Representatives:
        return self.state.representatives

    @property
    def scorer(self) -> RowScorer | None:
        return self.state.scorer

    @property
    def self_calibration(self) -> SelfCalibration:
        return self.state.self_calibration

    @property
    def encoder(self) -> str:
        return self.state.encoder

    @property
    def n(self) -> int:
        return self.rows.n

    @property
    def layout(self) -> LevelLayout | None:
        return self.rows.layout

    @property
    def verifier(self) -> PairScorer:
        return self._reader().verifier

    def set_layout(self, layout: LevelLayout) -> None:
        """Fix the index's layout before any row is stored (bulk loads)."""
        self.state.set_layout(layout)

    # -- writing ---------------------------------------------------------------------------
    def assign(
        self, items: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Incremental assignment, an upsert per item id (see ``assign_items``)."""
        return self.assign_items(items, progress=progress).assignments

    def assign_items(
        self,
        items: Sequence[EmbeddedItem],
        if_absent: bool = False,
        progress: Progress | None = None,
    ) -> AssignResult:
        """Known ids with the same content get their stored assignment, changed ones are
        judged again (``if_absent``: AlreadyExists instead); the clusters whose
        representative changed come with the answer."""
        with self.lock:
            return self._assign(items, False, progress, if_absent)

    def build(
        self,
        items: Sequence[EmbeddedItem],
        progress: Progress | None = None,
        release_vectors: bool = False,
    ) -> list[Assignment]:
        """Batch: add all items, fit SPDR on everything, then cluster in input order.
        ``release_vectors``: the caller hands ``items`` over, and each item's vectors are
        dropped once the table holds them (int8), for the rest of the build: the float32
        vectors were the largest part of a batch run's memory (4 KB an item, 4 GB at 1M)."""
        with self.lock:
            return self._assign(items, True, progress, release=release_vectors).assignments

    def _assign(
        self,
        items: Sequence[EmbeddedItem],
        refit: bool,
        progress: Progress | None,
        if_absent: bool = False,
        release: bool = False,
    ) -> AssignResult:
        row_of, deleted = self.rows.row_of, self.rows.deleted
        gone = {it.item_id for it in items if row_of.get(it.item_id, -1) in deleted}
        check_batch(items, self.rows.layout, self.encoder, gone)
        if self.rows.layout is None:  # the first batch names the encoder, and so the calibration
            first = next((it.embeddings.encoder for it in items if it.embeddings.encoder), "")
            calibration = self._calibration_for(first)
            if calibration is not self.calibration:
                self.calibration = calibration
                self._load()  # the empty state again, on that calibration
        plan = plan_batch(items, self.rows, self.store, if_absent)
        if progress:
            progress("received", len(items), len(items))
        reps: dict[int, int] = {}
        if plan.fresh:
            with self._rolled_back_on_failure(), self._threads(len(plan.fresh)):
                reps = self._add(plan, refit, progress, release)
        self.counts.update(c.name.lower() for c in plan.changes)
        decisions, cluster_of, ids = self.clusterer.decisions, self.rule.cluster_of, self.rows.ids
        rows = [self.rows.row_of[item.item_id] for item in items]
        now = self.representatives.of_clusters(self.rule.members, (cluster_of[r] for r in rows))
        answers = []
        for row, change, a in zip(rows, plan.changes, decisions.many(rows), strict=True):
            a.change, a.representative_id = change, ids[now[cluster_of[row]]]
            answers.append(a)
        return AssignResult(answers, self._report_changes(reps))

    def _threads(self, items: int) -> AbstractContextManager[object]:
        """One BLAS / OpenMP thread for a call of fewer than ``single_thread_below`` items."""
        if items >= self.config.single_thread_below or self.candidates.cindex is None:
            return nullcontext()
        global _POOLS
        if _POOLS is None or _POOLS[0] != len(sys.modules):
            # made again when modules were imported since (they may have loaded a library
            # with a pool of its own): a few ms, and a server soon imports nothing more
            from threadpoolctl import ThreadpoolController

            _POOLS = (len(sys.modules), ThreadpoolController())
        return _POOLS[1].limit(limits=1)

    def _add(
        self, plan: BatchPlan, refit: bool, progress: Progress | None, release: bool = False
    ) -> dict[int, int]:
        """Store and decide ``plan.fresh``; the representative rows of the clusters it touched
        before the batch (-1: none), for ``_report_changes``. ``release``: drop each item's
        vectors once stored (``build``'s ``release_vectors``)."""
        state, new_items = self.state, plan.fresh
        if self.rows.layout is None:
            state.set_layout(infer_layout([item.embeddings for item in new_items]))
            state.encoder = next(
                (it.embeddings.encoder for it in new_items if it.embeddings.encoder), ""
            )
        layout = self.rows.layout
        assert layout is not None and state.scorer is not None
        n = len(new_items)
        # every step of a batch is in some stage: the profile of a whole job
        say: Progress = progress or (lambda stage, done, total: None)
        say("store", 0, n)
        upsert = Upsert(state, plan.replaces)  # changed items' old rows leave their clusters
        digests: list[str] = []
        rows: list[int] = []
        for start in range(0, n, STORE_BLOCK):
            # a block at a time: the float32 concatenation of a whole 1M batch was 6 GB on
            # top of everything else (the table keeps int8 records)
            block = new_items[start : start + STORE_BLOCK]
            full = concatenate([it.embeddings for it in block], layout)
            digests += [item_digest(it, v, layout) for it, v in zip(block, full, strict=True)]
            block_rows = self.rows.append(block, full)
            del full
            if release:
                for item in block:
                    item.embeddings.vectors = {}
            upsert.appended(block_rows, block)
            rows += block_rows
            say("store", len(rows), n)
        self.candidates.register(rows, [item.concepts.anchors for item in new_items])
        if refit:
            self.candidates.refit(self.data_dir, progress)
            if self.config.self_calibration != "off":
                say("self-calibration", 0, 1)
                state.use_self_calibration(state.fit_self_calibration())
                say("self-calibration", 1, 1)
        else:
            self.candidates.add(rows, self.data_dir)
        self.clusterer.decide(
            rows, self.candidates.candidates, state.scorer, layout.levels, progress
        )
        before = upsert.decided(rows)
        say("persist", 0, n)
        state_store.commit_batch(state, self.store, rows, new_items, digests, upsert.replaced)
        say("persist", n, n)
        self.counts["moved"] += upsert.log_moves()
        return before

    def self_calibrate(self) -> SelfCalibration:
        """Fit the self-calibration again on the stored rows (on demand) and keep it: items
        assigned from now on are judged with it; earlier decisions stand."""
        with self.lock:
            state = self.state
            if self.rows.layout is not None:
                state.use_self_calibration(state.fit_self_calibration())
                self.store.commit(meta={"self_calibration": state.self_calibration.to_json()})
            return state.self_calibration

    def _report_changes(self, before: dict[int, int]) -> list[RepresentativeChange]:
        """The clusters of ``before`` whose representative changed (counted and logged)."""
        out = self.representatives.report_changes(before, self.rule.members, self.rows.ids)
        self.counts["representative_changes"] += len(out)
        return out

    def delete(self, item_ids: Sequence[str]) -> int:
        return self.delete_items(item_ids)[0]

    def delete_items(self, item_ids: Sequence[str]) -> tuple[int, list[RepresentativeChange]]:
        """Remove live items; how many, and the clusters whose representative changed."""
        with self.lock:
            row_of, deleted = self.rows.row_of, self.rows.deleted
            rows = [row_of[i] for i in dict.fromkeys(item_ids) if i in row_of]
            rows = [r for r in rows if r not in deleted]
            clusters = [self.rule.cluster_of[r] for r in rows]
            before = self.representatives.of_clusters(self.rule.members, clusters)
            if rows:
                with self._rolled_back_on_failure():
                    for row in rows:
                        deleted.add(row)
                        self.rule.remove(row)
                    self.store.commit(deleted_rows=rows)
            return len(rows), self._report_changes(before)

    @contextmanager
    def _rolled_back_on_failure(self) -> Iterator[None]:
        """All or nothing: a write that fails reloads the last committed state from the store
        (SQLite rolled its own transaction back); a full disk becomes ``NoSpace``."""
        try:
            yield
        except BaseException as exc:
            self._load()
            if is_disk_full(exc):
                self.counts["disk_full"] += 1
                log.error("event=disk_full dir=%s error=%s", self.data_dir, exc)
                raise no_space(self.data_dir, exc) from exc
            raise

    def snapshot(self, path: Path) -> tuple[Path, int]:
        """A consistent copy of the index at ``path``, written atomically (``storage.snapshot``)."""
        with self.lock:

            def write(tmp: Path) -> None:
                self.store.backup(tmp / STORE_FILE)
                if isinstance(self.state.vectors, VectorFile):
                    self.state.vectors.copy_to(tmp / VECTOR_FILE)
                reducer = self.candidates.reducer
                if reducer is not None:
                    reducer.save(tmp / f"reducer-v{self.candidates.index_version}.pkl")

            try:
                return write_snapshot(Path(path), write, self.rows.live), self.rows.live
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                self.counts["disk_full"] += 1
                raise no_space(Path(path).parent, exc) from exc

    # -- reading (``queries.IndexReader``) --------------------------------------------------
    def _reader(self) -> IndexReader:
        """The read side over the current parts; call with the lock held."""
        return IndexReader(self.state)

    def _count_tokens(self) -> None:
        """Bring the idf counts up to every stored row (they only move forward; right after a
        restart nothing is counted) before a read scores pairs with them."""
        if self.scorer is not None:
            self.scorer.count_tokens()

    def explain(self, item_a: str, item_b: str) -> Explanation:
        with self.lock:
            self._count_tokens()
            exp = self._reader().explain(item_a, item_b)
            fitted = self.state.self_calibration
            if fitted.fitted:  # the catalogue's weights, a waterfall's bars
                a, b = (self.rows.anchors[self.rows.row(i)] for i in (item_a, item_b))
                exp.features.update(fitted.features(a, b, exp.features))
            return exp

    def concepts_of(self, item_id: str) -> dict[str, list[str]]:
        """Concept strings by level name, read from the store (not kept in memory)."""
        return self.store.levels_of(self.rows.row(item_id))

    def query(
        self, item_ids: Sequence[str] = (), items: Sequence[EmbeddedItem] = (), k: int = 10
    ) -> list[tuple[str, list[Neighbor]]]:
        """Verified neighbours of stored items (by id) or of new items (not stored)."""
        with self.lock:
            self._count_tokens()
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
            self.candidates.wait_refit()  # a refit beside the service reads the rows
            self.state.close_vectors()
            self.store.close()
            self._release_lock()

    def _release_lock(self) -> None:
        if self.dir_lock is not None:
            self.dir_lock.release()
            self.dir_lock = None
