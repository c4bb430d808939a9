"""Metamorphic property: adding or perturbing listing columns never changes a decision."""

from __future__ import annotations

from fitrep.domain import Item
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CATALOGUE
from tests.unit.test_columns import _clusters

# listing column names in several languages (their names decide: no data can move them)
# Prices are drawn within a factor of 1.5 of each other: listing noise, below what the
# calibrated price gap reads as a different item (a price 10x another is evidence, by design).
_NAMES = """review_count rating Bewertung note hodnocení reviews stock Lagerbestand seller vendeur
    url last_seen shipping 评分""".split()
_PRICES = st.floats(100, 149, allow_nan=False).map(lambda x: f"{x:.2f} €")
_VALUES = st.one_of(
    st.floats(0, 1e5, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.integers(0, 10**6).map(str),
    st.text(min_size=1, max_size=30),
    st.sampled_from(["Sony DSC-W120 pink", "https://shop.example/p/T0441", "Canon MX700", "1 l"]),
)
_COLUMNS = st.fixed_dictionaries(
    {}, optional={"price": _PRICES, "cena": _PRICES, "价格": _PRICES}
).flatmap(
    lambda prices: st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=4).map(
        lambda others: {**others, **prices}
    )
)
BASELINE = _clusters(list(CATALOGUE))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_COLUMNS, min_size=len(CATALOGUE), max_size=len(CATALOGUE)))
def test_listing_columns_never_change_a_decision(columns):
    items = [
        Item(it.id, it.title, it.text, it.image, {**it.attributes, **cols})
        for it, cols in zip(CATALOGUE, columns, strict=True)
    ]
    assert _clusters(items) == BASELINE
