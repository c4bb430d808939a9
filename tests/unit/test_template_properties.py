"""Metamorphic properties over generated template catalogues (issue 25, part 4).

Rewording, reordering, casing or a marketing suffix must not change a decision; changing one
identity slot (brand, colour, size, pack, generation) must split. Records are drawn by
hypothesis from ``fitrep.synthetic.templates``, so no test names a title its author chose.
"""

from __future__ import annotations

import functools
import random

import pytest
from fitrep.domain import Anchors, Item
from fitrep.synthetic import pairwise_scores
from fitrep.synthetic.templates import Sku, change_slot, generate, random_sku, render, reword
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index_server.scoring.alignment import align, comparison_levels
from index_server.scoring.calibration import Calibration
from index_server.scoring.pairs import PairTable
from index_server.scoring.variant_gates import has_conflict
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.rules import RulesExtractor

SLOTS = ("brand", "colour", "size", "pack", "generation")
_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@functools.lru_cache(maxsize=4096)
def _anchors(title: str) -> Anchors:
    return RulesExtractor(use_images=False).extract_one(Item("x", title)).anchors


@st.composite
def relisting(draw: st.DrawFn) -> tuple[Sku, str, str]:
    """A SKU, its template title and a re-listing of it (order, spelling, casing, suffix)."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    sku = random_sku(rng)
    order, spelling = draw(st.integers(0, 4)), draw(st.integers(0, 1))
    return sku, render(sku), reword(render(sku, order, spelling), rng)


@st.composite
def sibling(draw: st.DrawFn) -> tuple[str, str, str]:
    """A SKU's title, a re-listing of a SKU that differs in one identity slot, and the slot."""
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    sku, slot = random_sku(rng), draw(st.sampled_from(SLOTS))
    try:
        other = change_slot(sku, slot, rng)
    except ValueError:
        other = change_slot(sku, "colour", rng)
        slot = "colour"
    order, spelling = draw(st.integers(0, 4)), draw(st.integers(0, 1))
    return render(sku), reword(render(other, order, spelling), rng), slot


@_SETTINGS
@given(relisting())
def test_a_relisting_has_no_conflict_and_no_substitution(case):
    _, title, relisted = case
    a, b = _anchors(title), _anchors(relisted)
    assert not has_conflict(a, b) and not has_conflict(b, a), (title, relisted)
    levels = comparison_levels(align(a, b))
    assert all(levels[k] != 3 for k in SLOTS), (title, relisted, levels)


@_SETTINGS
@given(sibling())
def test_changing_one_identity_slot_splits(case):
    title, changed, slot = case
    a, b = _anchors(title), _anchors(changed)
    assert has_conflict(a, b) and has_conflict(b, a), (slot, title, changed)


@pytest.fixture(scope="module")
def engine() -> ConceptEngine:
    return ConceptEngine.create("rules")


@settings(max_examples=6, deadline=None, derandomize=True)
@given(st.lists(relisting(), min_size=6, max_size=6), st.integers(0, 1000))
def test_relistings_are_decided_duplicates_among_their_catalogue(engine, cases, seed):
    """The decision itself (calibrated probability, idf from a generated catalogue around the
    pairs), not only the gates."""
    rows = generate(80, seed).rows
    items = [Item(str(r["id"]), str(r["title"])) for r in rows]
    for k, (_, title, relisted) in enumerate(cases):
        items += [Item(f"a{k}", title), Item(f"b{k}", relisted)]
    table = PairTable(engine.process(items))
    n = len(rows)
    pairs = [(n + 2 * k, n + 2 * k + 1) for k in range(len(cases))]
    cal = Calibration.load()
    probabilities = table.probabilities(pairs, cal)
    assert (probabilities >= cal.threshold).all(), list(
        zip(cases, probabilities.tolist(), strict=True)
    )


def test_a_small_template_catalogue_is_deduplicated(engine):
    """End to end on one generated catalogue: no cluster mixes SKUs beyond a few, none is
    larger than the largest true group."""
    from fitrep.pipeline import Pipeline

    catalogue = generate(200, 7)
    pipeline = Pipeline.create()
    try:
        assigned = pipeline.dedup([Item(str(r["id"]), str(r["title"])) for r in catalogue.rows])
    finally:
        pipeline.close()
    scores = pairwise_scores({a.item_id: a.cluster_id for a in assigned}, catalogue.sku)
    assert scores.precision >= 0.9 and scores.recall >= 0.8, scores
    assert scores.largest_cluster <= catalogue.largest_sku_group()
