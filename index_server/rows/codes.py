"""Model codes: when two codes name the same model, and the keys that block and bound on it.

One definition serves every place that compares codes: the verifier's ``code_match`` /
``code_conflict`` (``compatible_with`` over a record's ``codes_by_stem``), the chunk bound
(``code_keys`` and the stems that ``tokens.LexicalRows`` interns), which all rest on one
fact: compatible codes share their ``code_stem``. Candidate blocking
(``candidates.code_blocking``) keys on the exact code. It lives with the row table, below
the stages, because the row table (``code_keys``), candidate generation (``CODE_SLOTS``)
and scoring all read it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence

import numpy as np
from fitrep.domain import Anchors

_ALPHA_SUFFIX = re.compile(r"[a-z]{1,3}$")
_ALPHA_PREFIX = re.compile(r"^[a-z]{1,3}")


@functools.lru_cache(maxsize=1 << 18)
def codes_compatible(a: str, b: str) -> bool:
    """Same code, up to short letter affixes that shops add or spell differently:
    "lmvm2085" ~ "lmvm2085wh", "srsa212bk" ~ "srsa212blk" (colour/region letters after the
    model number), "av23292" ~ "23292" (a shop prefix before a part number); never
    "t0441" ~ "t0442"."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    if (
        len(short) >= 4
        and long_.startswith(short)
        and len(long_) - len(short) <= 3
        and long_[len(short) :].isalpha()
    ):
        return True
    stem_a, stem_b = _ALPHA_SUFFIX.sub("", a), _ALPHA_SUFFIX.sub("", b)
    if stem_a == stem_b and len(stem_a) >= 4 and any(c.isdigit() for c in stem_a):
        return True
    return short.isdigit() and len(short) >= 5 and _ALPHA_PREFIX.sub("", long_) == short


@functools.lru_cache(maxsize=1 << 16)
def code_stem(code: str) -> str:
    """The code without its leading and trailing letters. Compatible codes (see
    ``codes_compatible``: equal, letter suffixes added or respelled, a short shop prefix
    before a numeric part number) always share it, so it keys them for blocking and bounds."""
    end = len(code)
    while end and code[end - 1].isalpha():
        end -= 1
    start = 0
    while start < end and code[start].isalpha():
        start += 1
    return code[start:end]


def codes_by_stem(codes: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``codes`` grouped by ``code_stem``: built once per record (``record_profile``), so a
    code is compared only with the other record's codes of its stem (items list a dozen
    joined codes each, and all pairs of them cost most of a verification)."""
    out: dict[str, list[str]] = {}
    for code in codes:
        out.setdefault(code_stem(code), []).append(code)
    return {stem: tuple(v) for stem, v in out.items()}


def compatible_with(x: str, by_stem: Mapping[str, Sequence[str]]) -> bool:
    """Some code of ``by_stem`` (``codes_by_stem`` of a record's codes) compatible with
    ``x``."""
    return any(codes_compatible(x, y) for y in by_stem.get(code_stem(x), ()))


CODE_SLOTS = 4  # code keys kept per row; rows with more codes never prune on codes
NO_CODE = 0  # empty slot


def _code_key(code: str) -> int:
    return hash(code_stem(code)) or 1


def code_keys(anchors: Sequence[Anchors]) -> np.ndarray:
    """(n, CODE_SLOTS + 1) int64: ``_code_key`` of each row's codes ("code" and
    "code_any"), then 1 when the row has a "code" anchor.

    Rows without a common key cannot have ``code_match`` and, when both carry codes, do have
    ``code_conflict``. A row with more keys than slots gets the wildcard -1, which matches
    everything (no pruning).
    """
    out = np.zeros((len(anchors), CODE_SLOTS + 1), np.int64)
    for i, a in enumerate(anchors):
        prefixes = {_code_key(c) for c in (*a.code, *(a.code_any or ()))}
        if len(prefixes) > CODE_SLOTS:
            out[i, 0] = -1
        else:
            out[i, : len(prefixes)] = sorted(prefixes)
        out[i, CODE_SLOTS] = 1 if a.code else 0
    return out
