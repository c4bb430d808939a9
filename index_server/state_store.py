"""The index's state to and from its store: ``load`` fills an ``IndexState`` from what the
store committed, ``commit_batch`` writes a decided batch in one transaction.

The store knows rows and counters (``storage.persistence``), the state knows the stages;
this module maps the one onto the other, so neither imports the other's side.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import EmbeddedItem, ItemProfile

from index_server.clustering.cluster_ids import parse_cluster_id
from index_server.scoring.catalogue_fit import SelfCalibration
from index_server.state import IndexState
from index_server.storage.cluster_store import ClusterStore, StoredItem
from index_server.storage.faults import DECODE_ERRORS
from index_server.storage.persistence import StoredState, batch_meta, load_state

log = logging.getLogger("fitrep.index")


def load(state: IndexState, store: ClusterStore) -> None:
    """Fill the new ``state`` with what ``store`` committed (nothing for a new store)."""
    try:
        stored = load_state(store)
        if stored is not None:
            _restore(state, stored, store)
            fitted = store.get_meta().get("self_calibration")
            if fitted:
                state.use_self_calibration(SelfCalibration.from_json(fitted))
    except DECODE_ERRORS as exc:  # a row the store gave back that does not make sense
        raise store.corrupt(f"stored rows do not load ({exc})") from None


def _restore(state: IndexState, stored_state: StoredState, store: ClusterStore) -> None:
    """Rows, clusters, decisions and aliases from the store's ``stored_state``; then the
    vector index."""
    stored = stored_state.items
    state.set_layout(stored_state.layout, stored_state.vectors)
    if stored_state.vectors is None and stored:
        _move_vectors(state, store, stored)
    state.encoder = stored_state.encoder
    rule, decisions, families = state.rule, state.clusterer.decisions, stored_state.families
    row_of = {it.item_id: it.row for it in stored}
    for it in stored:
        rule.restore(it.row, it.cluster, families.get(it.cluster, 0))
        if it.deleted:
            state.rows.deleted.add(it.row)
            rule.remove(it.row)
    state.rows.restore(
        [it.item_id for it in stored],
        [it.anchors for it in stored],
        [it.image_features for it in stored],
    )
    reps = state.representatives
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
    candidates = state.candidates
    candidates.register(range(state.rows.n))
    rule.next_id = max(rule.next_id, stored_state.next_cluster)
    state.clusterer.aliases = stored_state.aliases
    candidates.index_version = stored_state.index_version
    candidates.fit_size = stored_state.fit_size
    candidates.load(state.data_dir)


def _move_vectors(state: IndexState, store: ClusterStore, stored: Sequence[StoredItem]) -> None:
    """A store from before the vector file: its rows' float16 vectors into the file, and
    the file's state committed (the column keeps the old blobs)."""
    vectors, codec = state.vectors, state.rows.codec
    assert vectors is not None and codec is not None
    step = 1 << 16
    for start in range(0, len(stored), step):
        part = stored[start : start + step]
        if any(it.vector is None for it in part):
            raise store.corrupt("a row has no vector and the store no vector file")
        full = np.stack([np.asarray(it.vector, np.float32) for it in part])
        vectors.append(codec.encode(full))
    vectors.sync()
    store.commit(meta={"vectors": {"codec": codec.name, **vectors.state()}})
    log.info("event=store_migrate path=%s to=vector_file rows=%d", state.data_dir, len(stored))


def commit_batch(
    state: IndexState,
    store: ClusterStore,
    rows: list[int],
    items: Sequence[EmbeddedItem],
    digests: Sequence[str],
    replaced: Mapping[int, int],
) -> None:
    """Commit the decided ``rows`` (from ``items``, with their content ``digests``), the
    rows they replace (old row -> new row) and the counters in one transaction."""
    layout = state.rows.layout
    assert layout is not None
    decisions, rule = state.clusterer.decisions, state.rule
    reps = state.representatives
    stored = []
    assigned = decisions.many(rows)
    for row, item, digest, a in zip(rows, items, digests, assigned, strict=True):
        first = reps.arrival(row)
        stored.append(
            StoredItem(
                row=row,
                item_id=a.item_id,
                cluster=rule.cluster_of[row],
                vector=None,
                levels={lv.name: list(v) for lv, v in item.concepts.levels.items()},
                anchors=item.concepts.anchors,  # what the table packed (not unpacked again)
                image_features=item.concepts.image_features,
                nearest=a.nearest_item_id,
                similarity=a.similarity,
                confidence=a.confidence,
                is_new=a.is_new_cluster,
                first_row=first if first != row else None,
                previous=(parse_cluster_id(a.previous_cluster_id) if a.previous_cluster_id else 0),
                digest=digest,
                profile=item.concepts.profile.to_json(),
            )
        )
    # a cluster a changed item reopened (it kept its id) may have had another family before
    reopened = {rule.cluster_of[new] for new in replaced.values()}
    families = {
        rule.cluster_of[r]: rule.family_of[rule.cluster_of[r]]
        for r, a in zip(rows, assigned, strict=True)
        if a.is_new_cluster
        and (
            rule.family_of[rule.cluster_of[r]] != rule.cluster_of[r]
            or rule.cluster_of[r] in reopened
        )
    }
    vectors, codec = state.vectors, state.rows.codec
    assert vectors is not None and codec is not None
    vectors.sync()  # the records are durable before the store commits their count
    store.commit(
        stored,
        families=families,
        meta=batch_meta(
            layout,
            next_cluster=rule.next_id,
            index_version=state.candidates.index_version,
            fit_size=state.candidates.fit_size,
            encoder=state.encoder,
            representative=str(reps.policy),
            vectors={"codec": codec.name, **vectors.state()},
        )
        | {"self_calibration": state.self_calibration.to_json()},
        replaced=dict(replaced),
    )
