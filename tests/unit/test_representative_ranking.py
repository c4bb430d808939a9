"""How ``most-complete`` and ``column:NAME`` rank members (#20), order by order: the filled
fields before the picture's size, however large; a column's missing, NaN or infinite value
below every real one. Through the public policy and the engine, not the key's arithmetic."""

from __future__ import annotations

import dataclasses
import math

import pytest
from fitrep.domain import EmbeddedItem, ItemProfile

from index_server.clustering.representative import (
    RepresentativePolicy,
    Representatives,
    changed,
)
from index_server.config import IndexConfig
from index_server.engine import IndexEngine


def _reps(policy: str, *profiles: ItemProfile) -> Representatives:
    reps = Representatives(RepresentativePolicy.parse(policy))
    for profile in profiles:
        reps.append(profile)
    return reps


@pytest.mark.parametrize("pixels", [640 * 480, 10**9, 2**40, 2**60])
def test_more_filled_fields_beat_any_picture(pixels):
    few_big = ItemProfile(filled_fields=3, image_pixels=pixels)
    more_small = ItemProfile(filled_fields=4, image_pixels=0)
    assert _reps("most-complete", few_big, more_small).choose([0, 1]) == 1
    assert _reps("most-complete", more_small, few_big).choose([0, 1]) == 0


def test_among_equally_filled_members_the_larger_picture_wins_then_the_first():
    reps = _reps(
        "most-complete",
        ItemProfile(filled_fields=2, image_pixels=100),
        ItemProfile(filled_fields=2, image_pixels=101),
        ItemProfile(filled_fields=2, image_pixels=101),
        ItemProfile(filled_fields=1, image_pixels=10**6),
    )
    assert reps.choose([0, 1, 2, 3]) == 1
    assert reps.choose([3, 2, 0]) == 2
    assert reps.choose([3, 0]) == 0


def test_first_ranks_every_member_alike_so_the_first_arrival_stays():
    reps = _reps(
        "first",
        ItemProfile(filled_fields=1),
        ItemProfile(filled_fields=4, image_pixels=10**6, numbers={"price": 9.0}),
    )
    assert reps.choose([1, 0]) == 0


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf])
def test_a_column_value_that_is_no_number_ranks_below_every_number(missing):
    numbers = {} if missing is None else {"bid": missing}
    reps = _reps(
        "column:bid",
        ItemProfile(numbers=numbers),
        ItemProfile(numbers={"bid": -1e300}),
        ItemProfile(numbers={"other": 5.0}),
    )
    assert reps.choose([0, 1, 2]) == 1
    assert reps.choose([2, 0]) == 0  # neither has one: the first arrival


def test_truncate_forgets_rows_and_their_first_arrivals():
    reps = _reps("column:bid", ItemProfile(numbers={"bid": 1.0}), ItemProfile())
    reps.append(ItemProfile(numbers={"bid": 1.0}), since=0)  # row 2: a new version of row 0
    reps.append(ItemProfile(numbers={"bid": 1.0}), since=1)  # row 3: a new version of row 1
    reps.append(ItemProfile(numbers={"bid": 1.0}))  # row 4
    assert reps.choose([4, 3, 2]) == 2  # row 2 keeps row 0's rank
    reps.truncate(2)  # rows 2.. were a batch that was not committed
    assert len(reps.keys) == 2
    for _ in range(3):  # rows 2, 3, 4 again, now new items
        reps.append(ItemProfile(numbers={"bid": 1.0}))
    assert [reps.arrival(r) for r in (2, 3, 4)] == [2, 3, 4]
    assert reps.choose([4, 3, 2]) == 2


def test_changed_lists_every_cluster_whose_representative_differs_in_order():
    before = {1: 10, 2: 20, 3: 30}
    after = {1: 10, 2: 21, 4: 40}
    assert changed(before, after) == [(2, 20, 21), (3, 30, -1), (4, -1, 40)]
    assert changed(before, before) == []


def test_the_engine_keeps_the_fuller_listing_over_the_bigger_picture(fast_items):
    """Through the index: m2 arrives with a much larger picture but fewer filled fields."""
    by_id = {it.item_id: it for it in fast_items}

    def profiled(item_id: str, **profile: int) -> EmbeddedItem:
        item = by_id[item_id]
        concepts = dataclasses.replace(item.concepts, profile=ItemProfile(**profile))
        return EmbeddedItem(concepts, item.embeddings)

    engine = IndexEngine(config=IndexConfig(representative="most-complete"))
    (a,) = engine.assign([profiled("m1", filled_fields=4, image_pixels=64)])
    result = engine.assign_items([profiled("m2", filled_fields=3, image_pixels=4000 * 3000)])
    assert result.assignments[0].cluster_id == a.cluster_id
    assert result.assignments[0].representative_id == "m1"
    assert result.representative_changes == []
    engine.close()
