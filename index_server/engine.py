"""IndexEngine: the index tier's facade over its pipeline stages.

rows (``rows.table``) -> candidates (``candidates.generator``: SPDR + vector index + code
blocking) -> scoring (``scoring.row_scorer``: the calibrated verifier) -> clustering
(``clustering.clusterer``: FBC's join rule, cluster ids) -> store (``storage.store``); reads
(explain, query, get_cluster, info) are answered by ``queries.IndexReader``. The one object
both the gRPC servicer and the in-process Pipeline drive. Single writer: every call holds the
engine's one lock.

Assign is an upsert per item id (``upserts``): a changed item gets a new row, its old row is
removed from its cluster first, and the new one is judged like a new item. Representatives
(``clustering.representative``) are derived from the members; the calls that change them
report and log the change.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fitrep.domain import (
    Assignment,
    AssignResult,
    Cluster,
    EmbeddedItem,
    Explanation,
    IndexInfo,
    ItemProfile,
    Neighbor,
    RepresentativeChange,
)

from index_server.candidates.generator import CandidateGenerator
from index_server.clustering.cluster_ids import format_cluster_id, parse_cluster_id
from index_server.clustering.clusterer import Clusterer
from index_server.clustering.decision_log import DecisionLog
from index_server.clustering.fbc import FBC
from index_server.clustering.representative import (
    RepresentativePolicy,
    Representatives,
    changed,
)
from index_server.config import IndexConfig
from index_server.integration import LevelLayout, concatenate, infer_layout
from index_server.queries import IndexReader
from index_server.rows.compact import Records, VectorCodec
from index_server.rows.table import RowTable
from index_server.scoring.calibration import Calibration
from index_server.scoring.catalogue_fit import SelfCalibration
from index_server.scoring.catalogue_sample import fit_on_rows
from index_server.scoring.lexical import LexicalStats
from index_server.scoring.row_scorer import RowScorer
from index_server.scoring.verifier import PairVerifier
from index_server.storage.digest import item_digest
from index_server.storage.dir_lock import DataDirLock
from index_server.storage.faults import (
    DECODE_ERRORS,
    CorruptStore,
    is_disk_full,
    no_space,
    restore_advice,
)
from index_server.storage.persistence import StoredState, batch_meta, load_state
from index_server.storage.snapshot import check_snapshot, write_snapshot
from index_server.storage.store import ClusterStore, StoredItem
from index_server.storage.vector_file import VECTOR_FILE, VectorFile
from index_server.upserts import BatchPlan, plan_batch
from index_server.validation import check_batch

Progress = Callable[[str, int, int], None]
log = logging.getLogger("fitrep.index")


class IndexEngine:
    """See module docstring. ``data_dir=None`` keeps everything in memory."""

    def __init__(self, data_dir: Path | None = None, config: IndexConfig | None = None) -> None:
        self.config = config or IndexConfig()
        self.data_dir = Path(data_dir) if data_dir is not None else self.config.data_dir
        self.policy = RepresentativePolicy.parse(self.config.representative)
        self.calibration = Calibration.load(self.config.calibration)
        # what the engine did since start (metrics): added, updated, moved, unchanged,
        # representative_changes, disk_full
        self.counts: Counter[str] = Counter()
        self.dir_lock = DataDirLock(self.data_dir) if self.data_dir else None
        # the rows' vector records: a file beside the store, or in memory without a data dir
        self.vectors: VectorFile | Records | None = None
        try:
            if self.data_dir:
                check_snapshot(self.data_dir)
            self.store = ClusterStore(self.data_dir / "store.sqlite" if self.data_dir else None)
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
        self._close_vector_file()
        if hasattr(self, "store"):
            self.store.close()
        self._release_lock()

    def _close_vector_file(self) -> None:
        """Close the vector file (in-memory records stay: ``set_layout`` cuts them back)."""
        if isinstance(self.vectors, VectorFile):
            self.vectors.close()
            self.vectors = None

    def _load(self) -> None:
        """Memory state from the store: at start-up, and to roll back a failed batch.

        A batch touches the rows, the candidate channels, the idf statistics, FBC and the
        decision log before it is committed; rather than undo each of them, a batch that
        fails before its commit (SQLite rolls its own transaction back) reloads everything
        from the store, which holds exactly the committed batches: the restart path (the
        vector file is cut back to the committed rows when it is opened again).
        """
        self._close_vector_file()
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
        self.representatives = Representatives(self.policy)
        self.self_calibration = SelfCalibration()
        try:
            state = load_state(self.store)
            if state is not None:
                self._restore(state)
                fitted = self.store.get_meta().get("self_calibration")
                if fitted:
                    self._use_self_calibration(SelfCalibration.from_json(fitted))
        except DECODE_ERRORS as exc:  # a row the store gave back that does not make sense
            raise self.store.corrupt(f"stored rows do not load ({exc})") from None

    def _restore(self, state: StoredState) -> None:
        """Rows, clusters, decisions and aliases from the store's ``state``; then the vector
        index (``_load``)."""
        stored = state.items
        self.set_layout(state.layout, state.vectors)
        if state.vectors is None and stored:
            self._move_vectors(stored)
        self.encoder = state.encoder
        fbc, decisions, families = self.fbc, self.clusterer.decisions, state.families
        row_of = {it.item_id: it.row for it in stored}
        for it in stored:
            fbc.restore(it.row, it.cluster, families.get(it.cluster, 0))
            if it.deleted:
                self.rows.deleted.add(it.row)
                fbc.remove(it.row)
        self.rows.restore(
            [it.item_id for it in stored],
            [it.anchors for it in stored],
            [it.image_features for it in stored],
        )
        reps = self.representatives
        for it in stored:
            nearest = row_of.get(it.nearest, -1) if it.nearest else -1
            decisions.record(
                it.cluster,
                nearest,
                it.similarity,
                it.confidence,
                it.is_new,
                family=families.get(it.cluster, 0),
            )
            if it.previous:
                decisions.set_previous(it.row, it.previous)
            reps.append(ItemProfile.from_json(it.profile), it.first_row)
        self.candidates.register(range(self.rows.n))
        fbc.next_id = max(fbc.next_id, state.next_cluster)
        self.clusterer.aliases = state.aliases
        self.candidates.index_version = state.index_version
        self.candidates.fit_size = state.fit_size
        self.candidates.load(self.data_dir)

    def _move_vectors(self, stored: Sequence[StoredItem]) -> None:
        """A store from before the vector file: its rows' float16 vectors into the file, and
        the file's state committed (the column keeps the old blobs)."""
        assert self.vectors is not None and self.rows.codec is not None
        codec, step = self.rows.codec, 1 << 16
        for start in range(0, len(stored), step):
            part = stored[start : start + step]
            if any(it.vector is None for it in part):
                raise self.store.corrupt("a row has no vector and the store no vector file")
            full = np.stack([np.asarray(it.vector, np.float32) for it in part])
            self.vectors.append(codec.encode(full))
        self.vectors.sync()
        self.store.commit(meta={"vectors": {"codec": codec.name, **self.vectors.state()}})
        log.info("event=store_migrate path=%s to=vector_file rows=%d", self.data_dir, len(stored))

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

    def set_layout(self, layout: LevelLayout, vectors: Mapping[str, Any] | None = None) -> None:
        """The index's layout, and its vector records: ``vectors`` is the committed state of
        the vector file (``storage.persistence``); None: a new file (nothing committed, so a
        file left by an uncommitted first batch is discarded)."""
        codec = VectorCodec(layout, str((vectors or {}).get("codec", self.config.vector_codec)))
        if codec.name != self.config.vector_codec:
            log.info(
                "event=vector_codec stored=%s configured=%s", codec.name, self.config.vector_codec
            )
        committed = vectors or {}
        if self.data_dir is not None:
            path = self.data_dir / VECTOR_FILE
            if vectors is None:
                path.unlink(missing_ok=True)
            self.vectors = VectorFile(
                path,
                codec.dtype,
                codec.name,
                int(committed.get("rows", 0)),
                int(committed.get("crc32", 0)),
            )
        elif isinstance(self.vectors, Records) and vectors is not None:
            self.vectors.truncate(int(committed.get("rows", 0)))  # rolling a batch back
        else:
            self.vectors = Records(codec.dtype)
        self.rows.set_layout(layout, codec, self.vectors)
        verifier = PairVerifier(self.calibration, layout, LexicalStats(self.rows.lexical))
        self.scorer = RowScorer(self.rows, verifier)
        self._use_self_calibration(self.self_calibration)

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
        self, items: Sequence[EmbeddedItem], progress: Progress | None = None
    ) -> list[Assignment]:
        """Batch: add all items, fit SPDR on everything, then cluster in input order."""
        with self.lock:
            return self._assign(items, True, progress).assignments

    def _assign(
        self,
        items: Sequence[EmbeddedItem],
        refit: bool,
        progress: Progress | None,
        if_absent: bool = False,
    ) -> AssignResult:
        row_of, deleted = self.rows.row_of, self.rows.deleted
        gone = {it.item_id for it in items if row_of.get(it.item_id, -1) in deleted}
        check_batch(items, self.rows.layout, self.encoder, gone)
        plan = plan_batch(items, self.rows, self.store, if_absent)
        if progress:
            progress("received", len(items), len(items))
        reps: dict[int, int] = {}
        if plan.fresh:
            with self._rolled_back_on_failure():
                reps = self._add(plan, refit, progress)
        self.counts.update(c.name.lower() for c in plan.changes)
        decisions, cluster_of, ids = self.clusterer.decisions, self.fbc.cluster_of, self.rows.ids
        rows = [self.rows.row_of[item.item_id] for item in items]
        now = self._representatives(cluster_of[row] for row in rows)
        answers = []
        for row, change in zip(rows, plan.changes, strict=True):
            a = decisions[row]
            a.change, a.representative_id = change, ids[now[cluster_of[row]]]
            answers.append(a)
        return AssignResult(answers, self._report_changes(reps))

    def _add(self, plan: BatchPlan, refit: bool, progress: Progress | None) -> dict[int, int]:
        """Store and decide ``plan.fresh``; the representative rows of the clusters it touched
        before the batch (-1: none), for ``_report_changes``."""
        new_items = plan.fresh
        if self.rows.layout is None:
            self.set_layout(infer_layout([item.embeddings for item in new_items]))
            self.encoder = next(
                (it.embeddings.encoder for it in new_items if it.embeddings.encoder), ""
            )
        layout = self.rows.layout
        assert layout is not None and self.scorer is not None
        full = concatenate([it.embeddings for it in new_items], layout)
        digests = [item_digest(it, v, layout) for it, v in zip(new_items, full, strict=True)]
        old_rows = plan.replaces  # item id -> its current row, for changed items
        before = self._representatives(self.fbc.cluster_of[r] for r in old_rows.values())
        previous = {row: self.fbc.cluster_of[row] for row in old_rows.values()}
        for row in old_rows.values():  # out of the way: the new version is judged afresh
            self.rows.deleted.add(row)
            self.fbc.remove(row)
        rows = self.rows.append(new_items, full)
        replaced: dict[int, int] = {}
        for row, item in zip(rows, new_items, strict=True):
            old = old_rows.get(item.item_id)
            self.representatives.append(
                item.concepts.profile, None if old is None else self.representatives.arrival(old)
            )
            if old is not None:
                replaced[old] = row
                if previous[old] not in self.fbc.members:  # it was alone: it may keep its id
                    self.fbc.keep.setdefault(row, previous[old])
        self.candidates.register(rows)
        if refit:
            self.candidates.refit(self.data_dir, progress)
            if self.config.self_calibration != "off":
                self._use_self_calibration(self._fit_self_calibration())
        else:
            self.candidates.add(rows, self.data_dir)
        self.clusterer.decide(
            rows, self.candidates.candidates, self.scorer, layout.levels, progress
        )
        self.fbc.keep.clear()
        for old, row in replaced.items():
            self.clusterer.decisions.set_previous(row, previous[old])
        fresh = set(rows)
        for cluster in {self.fbc.cluster_of[row] for row in rows} - set(before):
            members = [m for m in self.fbc.members[cluster] if m not in fresh]
            before[cluster] = self.representatives.choose(members)
        self._persist(rows, new_items, digests, replaced)
        self._log_moves(replaced, previous)
        return before

    def _fit_self_calibration(self) -> SelfCalibration:
        """The catalogue's own weights (``scoring.catalogue_fit``), from its stored rows."""
        fitted = fit_on_rows(
            self.rows,
            self.candidates.candidates,
            scope=self.config.self_calibration,
            calibration=self.calibration,
        )
        log.info("event=self_calibration fitted=%s reason=%r", fitted.fitted, fitted.reason)
        return fitted

    def _use_self_calibration(self, fitted: SelfCalibration) -> None:
        """Judge pairs with ``fitted`` from now on (not fitted: the shipped calibration alone)."""
        self.self_calibration = fitted
        if self.scorer is not None:
            verifier = self.scorer.verifier
            verifier.adjust = fitted.adjust if fitted.fitted else None
            verifier.max_adjustment = fitted.max_adjustment

    def self_calibrate(self) -> SelfCalibration:
        """Fit the self-calibration again on the stored rows (on demand) and keep it: items
        assigned from now on are judged with it; earlier decisions stand."""
        with self.lock:
            if self.rows.layout is None:
                return self.self_calibration
            self._use_self_calibration(self._fit_self_calibration())
            self.store.commit(meta={"self_calibration": self.self_calibration.to_json()})
            return self.self_calibration

    def _persist(
        self,
        rows: list[int],
        items: Sequence[EmbeddedItem],
        digests: Sequence[str],
        replaced: Mapping[int, int],
    ) -> None:
        """Commit the decided ``rows`` (from ``items``, with their content ``digests``), the
        rows they replace (old row -> new row) and the counters in one transaction."""
        layout = self.rows.layout
        assert layout is not None
        table, decisions, fbc = self.rows, self.clusterer.decisions, self.fbc
        reps = self.representatives
        stored = []
        for row, item, digest in zip(rows, items, digests, strict=True):
            a = decisions[row]
            first = reps.arrival(row)
            stored.append(
                StoredItem(
                    row=row,
                    item_id=a.item_id,
                    cluster=fbc.cluster_of[row],
                    vector=None,
                    levels={lv.name: list(v) for lv, v in item.concepts.levels.items()},
                    anchors=table.anchors[row],
                    image_features=item.concepts.image_features,
                    nearest=a.nearest_item_id,
                    similarity=a.similarity,
                    confidence=a.confidence,
                    is_new=a.is_new_cluster,
                    first_row=first if first != row else None,
                    previous=(
                        parse_cluster_id(a.previous_cluster_id) if a.previous_cluster_id else 0
                    ),
                    digest=digest,
                    profile=item.concepts.profile.to_json(),
                )
            )
        # a cluster a changed item reopened (it kept its id) may have had another family before
        reopened = {fbc.cluster_of[new] for new in replaced.values()}
        families = {
            fbc.cluster_of[r]: fbc.family_of[fbc.cluster_of[r]]
            for r in rows
            if decisions[r].is_new_cluster
            and (
                fbc.family_of[fbc.cluster_of[r]] != fbc.cluster_of[r]
                or fbc.cluster_of[r] in reopened
            )
        }
        assert self.vectors is not None and self.rows.codec is not None
        self.vectors.sync()  # the records are durable before the store commits their count
        self.store.commit(
            stored,
            families=families,
            meta=batch_meta(
                layout,
                next_cluster=fbc.next_id,
                index_version=self.candidates.index_version,
                fit_size=self.candidates.fit_size,
                encoder=self.encoder,
                representative=str(reps.policy),
                vectors={"codec": self.rows.codec.name, **self.vectors.state()},
            )
            | {"self_calibration": self.self_calibration.to_json()},
            replaced=dict(replaced),
        )

    def _log_moves(self, replaced: dict[int, int], previous: dict[int, int]) -> None:
        for old, row in replaced.items():
            was, now = previous[old], self.fbc.cluster_of[row]
            if was != now:
                self.counts["moved"] += 1
                log.info(
                    "event=item_moved item=%s from=%s to=%s",
                    self.rows.ids[row],
                    format_cluster_id(was),
                    format_cluster_id(now),
                )

    def _representatives(self, clusters: Iterable[int]) -> dict[int, int]:
        """Cluster -> its representative row now (-1: no member left)."""
        members = self.fbc.members
        return {c: self.representatives.choose(members.get(c, [])) for c in set(clusters)}

    def _report_changes(self, before: dict[int, int]) -> list[RepresentativeChange]:
        """The clusters of ``before`` (cluster -> its representative row before the call)
        whose representative item differs now, logged. A cluster that is new is not a
        change, nor a representative whose item only got a new version."""
        ids, out = self.rows.ids, []
        for cluster, old, new in changed(before, self._representatives(before)):
            if old < 0 or (new >= 0 and ids[old] == ids[new]):
                continue
            change = RepresentativeChange(
                format_cluster_id(cluster), ids[old], ids[new] if new >= 0 else ""
            )
            log.info(
                "event=representative_changed cluster=%s from=%s to=%s policy=%s",
                change.cluster_id,
                change.previous_id,
                change.representative_id or "-",
                self.policy,
            )
            out.append(change)
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
            before = self._representatives(self.fbc.cluster_of[r] for r in rows)
            if rows:
                with self._rolled_back_on_failure():
                    for row in rows:
                        deleted.add(row)
                        self.fbc.remove(row)
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
                self.store.backup(tmp / "store.sqlite")
                if isinstance(self.vectors, VectorFile):
                    self.vectors.copy_to(tmp / VECTOR_FILE)
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
        return IndexReader(
            self.rows,
            self.candidates,
            self.scorer,
            self.clusterer,
            self.calibration,
            self.encoder,
            self.representatives,
        )

    def _count_tokens(self) -> None:
        """Bring the idf counts up to every stored row (they only move forward; right after a
        restart nothing is counted) before a read scores pairs with them."""
        if self.scorer is not None:
            self.scorer.verifier.stats.extend_to(self.rows.anchors)

    def explain(self, item_a: str, item_b: str) -> Explanation:
        with self.lock:
            self._count_tokens()
            exp = self._reader().explain(item_a, item_b)
            if self.self_calibration.fitted:  # the catalogue's weights, a waterfall's bars
                a, b = (self.rows.anchors[self.rows.row(i)] for i in (item_a, item_b))
                exp.features.update(self.self_calibration.features(a, b, exp.features))
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
            self._close_vector_file()
            self.store.close()
            self._release_lock()

    def _release_lock(self) -> None:
        if self.dir_lock is not None:
            self.dir_lock.release()
            self.dir_lock = None
