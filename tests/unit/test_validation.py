"""The batch check's stacked vector test never calls a vector sound that the one-at-a-time
check (which names the fault) would refuse."""

from __future__ import annotations

import numpy as np
import pytest
from fitrep.domain import InvalidInput
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from index_server.validation import _sound, check_vector

_VALUES = st.one_of(
    st.floats(-2.0, 2.0, width=32),
    st.sampled_from([0.0, np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-45, 1e20]),
)
_VECTOR = st.one_of(
    arrays(
        st.sampled_from([np.float32, np.float64, np.float16]), st.integers(1, 4), elements=_VALUES
    ),
    arrays(np.int64, 3, elements=st.integers(-3, 3)),
    arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(1, 2)), elements=_VALUES),
    st.just(np.zeros(0, np.float32)),
)


def _passes(v: np.ndarray) -> bool:
    try:
        check_vector(v, "v")
    except InvalidInput:
        return False
    return True


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 3e38 as float16 overflows: a case
@settings(max_examples=300, deadline=None)
@given(st.lists(_VECTOR, max_size=12))
def test_stacked_check_agrees_with_the_single_check(vectors: list[np.ndarray]) -> None:
    sound = _sound(vectors)
    assert [bool(s) for s in sound] == [_passes(v) for v in vectors]
