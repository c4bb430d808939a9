"""What the engine writes per batch and reads back on start.

One SQLite transaction per batch holds the rows, the rows they replace (changed items) and
the counters (next cluster id, index version, layout), so after a crash the engine restarts
from the last committed batch. The reducer and vector index are derived state: saved per index
version, rebuilt when missing; so are the representatives (from the rows' profiles).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from fitrep.domain import EmbeddedItem, ItemProfile

from index_server.clustering.cluster_ids import parse_cluster_id
from index_server.integration import LevelLayout
from index_server.storage.store import StoredItem

if TYPE_CHECKING:  # the engine is the composition root that calls these two functions
    from index_server.engine import IndexEngine


def persist_rows(
    engine: IndexEngine,
    rows: list[int],
    items: Sequence[EmbeddedItem],
    digests: Sequence[str],
    replaced: Mapping[int, int],
) -> None:
    """Commit the decided ``rows`` (from ``items``, with their content ``digests``), the
    rows they replace (old row -> new row) and the counters in one transaction."""
    layout = engine.rows.layout
    assert layout is not None
    table, decisions, fbc = engine.rows, engine.clusterer.decisions, engine.fbc
    reps = engine.representatives
    stored = []
    for row, item, digest in zip(rows, items, digests, strict=True):
        a = decisions[row]
        first = reps.arrival(row)
        stored.append(
            StoredItem(
                row=row,
                item_id=a.item_id,
                cluster=fbc.cluster_of[row],
                vector=table.vectors[row],
                levels={lv.name: list(v) for lv, v in item.concepts.levels.items()},
                anchors=table.anchors[row],
                image_features=item.concepts.image_features,
                nearest=a.nearest_item_id,
                similarity=a.similarity,
                confidence=a.confidence,
                is_new=a.is_new_cluster,
                first_row=first if first != row else None,
                previous=parse_cluster_id(a.previous_cluster_id) if a.previous_cluster_id else 0,
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
        and (fbc.family_of[fbc.cluster_of[r]] != fbc.cluster_of[r] or fbc.cluster_of[r] in reopened)
    }
    engine.store.commit(
        stored,
        families=families,
        meta={
            "layout": layout.to_json(),
            "next_cluster": fbc.next_id,
            "index_version": engine.candidates.index_version,
            "fit_size": engine.candidates.fit_size,
            "encoder": engine.encoder,
            "representative": str(reps.policy),
        },
        replaced=dict(replaced),
    )


def load_engine_state(engine: IndexEngine) -> None:
    """Rows, clusters, decisions and aliases from the store; then the vector index."""
    meta = engine.store.get_meta()
    if "layout" not in meta:
        return
    engine.set_layout(LevelLayout.from_json(meta["layout"]))
    engine.encoder = str(meta.get("encoder", ""))
    layout = engine.rows.layout
    assert layout is not None
    fbc, decisions = engine.fbc, engine.clusterer.decisions
    stored = list(engine.store.iter_items(layout.total))
    row_of = {it.item_id: it.row for it in stored}
    families = engine.store.families()
    for it in stored:
        fbc.restore(it.row, it.cluster, families.get(it.cluster, 0))
        if it.deleted:
            engine.rows.deleted.add(it.row)
            fbc.remove(it.row)
    engine.rows.restore(
        [it.item_id for it in stored],
        [it.vector for it in stored],
        [it.anchors for it in stored],
        [it.image_features for it in stored],
    )
    reps = engine.representatives
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
    engine.candidates.register(range(engine.rows.n))
    fbc.next_id = max(fbc.next_id, int(meta.get("next_cluster", 1)))
    engine.clusterer.aliases = engine.store.aliases()
    engine.candidates.index_version = int(meta.get("index_version", 0))
    engine.candidates.fit_size = int(meta.get("fit_size", 0))
    engine.candidates.load(engine.data_dir)
