"""A representative per cluster (#20): chosen by a policy, stable until a better member arrives
or it leaves, reported and logged when it changes, the same after a restart."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from fitrep.domain import EmbeddedItem, InvalidInput, Item, ItemProfile, RepresentativeChange

from index_server.clustering.representative import Representatives
from index_server.config import IndexConfig, RepresentativePolicy
from index_server.engine import IndexEngine
from tests.unit.test_image_intake import png


def _with_profile(item: EmbeddedItem, **profile) -> EmbeddedItem:
    concepts = dataclasses.replace(item.concepts, profile=ItemProfile(**profile))
    return EmbeddedItem(concepts, item.embeddings)


def _engine(policy: str, data_dir=None) -> IndexEngine:
    return IndexEngine(data_dir, IndexConfig(representative=policy))


def _by_id(items):
    return {it.item_id: it for it in items}


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("first", RepresentativePolicy("first")),
        ("most-complete", RepresentativePolicy("most-complete")),
        ("column:Price", RepresentativePolicy("column", "price")),
    ],
)
def test_policies_parse_and_print(text, policy):
    assert RepresentativePolicy.parse(text) == policy
    assert str(policy) == text.lower()


@pytest.mark.parametrize("text", ["last", "column:", "most_complete", ""])
def test_an_unknown_policy_names_the_choices(text):
    with pytest.raises(InvalidInput, match="first, most-complete, column:NAME"):
        RepresentativePolicy.parse(text)


def test_the_index_server_refuses_an_unknown_policy_at_start(capsys):
    from index_server.transport.config import config_from_args

    assert config_from_args(["--representative", "column:bid"]).index.representative == "column:bid"
    with pytest.raises(SystemExit) as exit_:
        config_from_args(["--representative", "best"])
    assert exit_.value.code == 2
    assert "--representative: 'best' is not one of" in capsys.readouterr().err


def test_choose_takes_the_best_key_then_the_earliest_arrival():
    reps = Representatives(RepresentativePolicy("column", "bid"))
    for bid in (None, 3.0, 5.0, 5.0):
        reps.append(ItemProfile(numbers={} if bid is None else {"bid": bid}))
    assert reps.choose([0, 1, 2, 3]) == 2  # 5.0 first reached by row 2
    assert reps.choose([3, 2]) == 2
    assert reps.choose([0]) == 0 and reps.choose([]) == -1
    reps.append(ItemProfile(numbers={"bid": 5.0}), since=1)  # a new version of row 1's item
    assert reps.choose([2, 4]) == 4  # it keeps the rank of its first arrival


def test_first_is_the_default_and_never_changes_for_a_better_member(fast_items):
    engine = IndexEngine()
    m1, m2 = (_by_id(fast_items)[i] for i in ("m1", "m2"))
    (a,) = engine.assign([m1])
    result = engine.assign_items([_with_profile(m2, filled_fields=9, image_pixels=10**6)])
    assert result.assignments[0].cluster_id == a.cluster_id
    assert result.assignments[0].representative_id == "m1"
    assert result.representative_changes == []
    assert engine.get_cluster(a.cluster_id).representative_id == "m1"


def test_a_better_member_becomes_the_representative_and_the_change_is_reported(fast_items, caplog):
    engine = _engine("most-complete")
    m1, m2 = (_by_id(fast_items)[i] for i in ("m1", "m2"))
    (a,) = engine.assign([_with_profile(m1, filled_fields=3)])
    assert a.representative_id == "m1"
    with caplog.at_level(logging.INFO, logger="fitrep.index"):
        result = engine.assign_items([_with_profile(m2, filled_fields=3, image_pixels=640 * 480)])
    assert result.assignments[0].representative_id == "m2"
    assert result.representative_changes == [RepresentativeChange(a.cluster_id, "m1", "m2")]
    assert f"event=representative_changed cluster={a.cluster_id} from=m1 to=m2" in caplog.text
    assert engine.counts["representative_changes"] == 1
    # an equal member does not take over: ties go to the earlier one
    s_more = _with_profile(_by_id(fast_items)["m2"], filled_fields=3, image_pixels=640 * 480)
    again = engine.assign_items([s_more])
    assert again.representative_changes == [] and again.assignments[0].representative_id == "m2"


def test_the_highest_value_of_a_column_wins_and_members_without_one_rank_last(fast_items):
    engine = _engine("column:price")
    m1, m2 = (_by_id(fast_items)[i] for i in ("m1", "m2"))
    out = engine.assign([_with_profile(m1), _with_profile(m2, numbers={"price": 2.5})])
    assert out[0].cluster_id == out[1].cluster_id
    assert {a.representative_id for a in out} == {"m2"}


def test_when_the_representative_leaves_the_next_best_takes_over(fast_items):
    engine = _engine("most-complete")
    m1, m2 = (_by_id(fast_items)[i] for i in ("m1", "m2"))
    out = engine.assign([_with_profile(m1, filled_fields=4), _with_profile(m2, filled_fields=2)])
    cluster = out[0].cluster_id
    assert out[1].representative_id == "m1"
    deleted, changes = engine.delete_items(["m1"])
    assert deleted == 1 and changes == [RepresentativeChange(cluster, "m1", "m2")]
    assert engine.get_cluster(cluster).representative_id == "m2"


def test_representatives_survive_a_restart_and_follow_a_new_policy(tmp_path, fast_items):
    engine = _engine("column:price", tmp_path)
    s1, s2 = (_by_id(fast_items)[i] for i in ("s1", "s2"))
    out = engine.assign(
        [_with_profile(s1, numbers={"price": 1.0}), _with_profile(s2, numbers={"price": 7.0})]
    )
    cluster = out[0].cluster_id
    engine.close()
    reopened = _engine("column:price", tmp_path)
    assert reopened.get_cluster(cluster).representative_id == "s2"
    reopened.close()
    first = _engine("first", tmp_path)  # the operator changed the policy
    assert first.get_cluster(cluster).representative_id == "s1"
    first.close()


def test_the_concept_tier_fills_the_profile(concept_engine):
    item = Item("p", "Oatly oat drink 1 l", "carton", png(40, 30), {"price": "12,5", "shop": "x"})
    (embedded,) = concept_engine.process([item])
    assert embedded.concepts.profile == ItemProfile(5, 1200, {"price": 12.5})
