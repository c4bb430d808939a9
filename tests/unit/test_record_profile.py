"""A record's profile (``record_profile``) reads the anchors as the anchors' own API does, and
the pair features computed over it are the same in every process."""

from __future__ import annotations

import subprocess
import sys

from fitrep.anchors import VARIANT_KINDS, Anchors
from hypothesis import given, settings
from hypothesis import strategies as st

from index_server.rows.codes import codes_compatible, compatible_with
from index_server.scoring.record_profile import profile_of

_CODES = st.text(alphabet="ab0129", min_size=2, max_size=8)
_WORDS = st.text(alphabet="abc1", min_size=1, max_size=3)
_VARIANTS = st.builds(lambda k, v: f"{k}:{v}", st.sampled_from(VARIANT_KINDS), _WORDS)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CODES, max_size=4), st.lists(_CODES, max_size=6))
def test_codes_by_stem_find_every_compatible_code(xs: list[str], ys: list[str]) -> None:
    """The profile compares a code only with the other record's codes of its stem: that
    loses nothing only if compatible codes always share a stem."""
    by_stem = profile_of(Anchors(code_any=tuple(ys))).codes_by_stem
    brute = [any(codes_compatible(x, y) for y in ys) for x in xs]
    assert [compatible_with(x, by_stem) for x in xs] == brute


@settings(max_examples=200, deadline=None)
@given(
    st.lists(_VARIANTS, max_size=5),
    st.none() | st.lists(_VARIANTS, max_size=5),
    st.lists(_VARIANTS | _WORDS, max_size=3),
)
def test_profile_reads_variants_as_the_anchors_do(
    title: list[str], anywhere: list[str] | None, read: list[str]
) -> None:
    a = Anchors(
        variant=tuple(title),
        variant_any=None if anywhere is None else tuple(anywhere),
        variant_read=tuple(read),
    )
    p = profile_of(a)
    for kind in VARIANT_KINDS:
        assert p.values(kind) == set(a.variants(kind))
        assert p.kinds.get(kind, ()) == a.variants(kind)
        assert p.values_anywhere(kind) == set(a.variants(kind, anywhere=True))
        assert p.values_named(kind) == set(a.variants(kind)) | set(a.variants(kind, True))
        assert (kind in p.read) == any(v.startswith(kind + ":") for v in a.variant_read)


_FIELD_AGAINST = """
from fitrep.anchors import Anchors
from index_server.scoring.features import record_features
cols = ["brand", "colour", "material", "origin", "style", "fit", "care", "maker"]
# each column shares one word of 2 + i, so the terms 1 - 2 * jaccard all differ
def words(side, n):
    return " ".join(f"{side}{n}{k}" for k in range(n))
a = Anchors(fields=tuple(f"{c}=s {words('a', i)}" for i, c in enumerate(cols)))
b = Anchors(fields=tuple(f"{c}=s {words('b', i + 1)}" for i, c in enumerate(cols)))
print(repr(record_features(a, b)["field_against"]))
"""


def test_field_against_is_the_same_in_every_process() -> None:
    """The columns two records share are summed in a fixed order: a set of strings iterates
    in an order set by the process's hash seed, and the pair-feature worker, the join and
    a second run would otherwise disagree in the last bit."""
    values = {
        subprocess.run(
            [sys.executable, "-c", _FIELD_AGAINST],
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    assert len(values) == 1, values
