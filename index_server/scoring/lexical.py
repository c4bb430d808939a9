"""The token features of ``token_features`` for a whole chunk of pairs at once, with integer
arrays.

``token_features.token_features`` works on Python sets one pair at a time; at a million items that
is most of an assign's time. The features that carry most of the lexical weight —
``token_jaccard``, ``idf_cosine``, ``idf_containment`` and ``char_jaccard`` — are set
overlaps, so they vectorise: every row's title tokens and character 3-grams are interned
once, when the row is appended, into flat id arrays (``rows.tokens.LexicalRows``), and a
chunk's features (``chunk_features``) are sorted-key intersections over those arrays. The idf
is the per-row one of ``token_features.TokenStats`` (row r judged by the document
frequencies of rows 0..r), computed with cumulative counts inside the chunk, so the values
equal the per-pair ones (up to float summation order). The uncovered-word shares get lower bounds
(words sharing no 4-letter cover key are surely uncovered) and model codes a may-match flag
(compatible codes share their stem). Hard gates (variant conflicts) only ever lower a
score, so the bound leaves them out. ``LogisticScorer.upper_bound`` uses all of it to bound
each pair's score tightly; pairs that may pass are still scored by the scorer itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from index_server.rows.tokens import LexicalRows, Ragged
from index_server.scoring.idf import idf_weight

FEATURES = ("token_jaccard", "idf_cosine", "idf_containment", "char_jaccard")
LOWER_BOUNDED = ("unique_min", "unique_max")


@dataclass
class ChunkLexical:
    """A chunk's lexical evidence, each (n, k): ``exact`` holds FEATURES as
    ``token_features`` computes them; ``lower`` lower bounds of the
    LOWER_BOUNDED features; ``code_may_match`` False where no title code of one row shares a
    stem with the other's codes (then ``code_match`` is impossible: compatible codes share
    their stem)."""

    exact: dict[str, np.ndarray]
    lower: dict[str, np.ndarray]
    code_may_match: np.ndarray


def chunk_features(lexical: LexicalRows, rows: np.ndarray, cands: np.ndarray) -> ChunkLexical:
    """Features of ``rows[i]`` against ``cands[i, j]`` (-1 = none), each (n, k), each
    pair judged by the token statistics of rows 0..rows[i] (see ``ChunkLexical``), whatever
    rows ``lexical`` has counted (the count does not move)."""
    n, k = cands.shape
    out = {name: np.zeros((n, k)) for name in FEATURES}
    low = {name: np.zeros((n, k)) for name in LOWER_BOUNDED}
    may_match = np.zeros((n, k), bool)
    valid = cands >= 0
    if not valid.any():
        return ChunkLexical(out, low, may_match)
    lo, hi = int(rows.min()), int(rows.max())
    pair_i, pair_j = np.nonzero(valid)
    a_rows, b_rows = rows[pair_i], cands[pair_i, pair_j]
    n_pairs = len(pair_i)

    # tokens: weights idf(t)^2 with the df and document count of the deciding row
    block, block_owner = lexical.tokens.gather(np.arange(lo, hi + 1))
    span = hi - lo + 1
    block_keys = np.sort((block >> 1) * span + block_owner)
    a_tok, a_own = lexical.tokens.gather(a_rows)
    b_tok, b_own = lexical.tokens.gather(b_rows)

    def weight(entries: np.ndarray, owner: np.ndarray) -> np.ndarray:
        tok, row = entries >> 1, a_rows[owner]
        start = np.searchsorted(block_keys, tok * span, "left")
        upto = np.searchsorted(block_keys, tok * span + (row - lo), "right")
        df = lexical.df_of(tok, lo) + (upto - start)
        return idf_weight(row + 1, df)  # type: ignore[return-value]

    w_a, w_b = weight(a_tok, a_own), weight(b_tok, b_own)
    mass_a = np.bincount(a_own, w_a, n_pairs)
    mass_b = np.bincount(b_own, w_b, n_pairs)
    vocab_size = 2 * len(lexical.vocab) + 2
    a_keys = a_own * vocab_size + (a_tok >> 1)
    b_keys = b_own * vocab_size + (b_tok >> 1)
    shared = _member(a_keys, b_keys)
    mass_shared = np.bincount(a_own[shared], w_a[shared], n_pairs)
    both = (mass_a > 0) & (mass_b > 0)
    safe_a, safe_b = np.where(both, mass_a, 1.0), np.where(both, mass_b, 1.0)
    idf_cos = np.where(both, mass_shared / np.sqrt(safe_a * safe_b), 0.0)
    idf_cont = np.where(both, mass_shared / np.minimum(safe_a, safe_b), 0.0)

    title_a, title_b = (a_tok & 1) == 1, (b_tok & 1) == 1
    unique_a = _uncovered_at_least(lexical, a_tok[title_a], a_own[title_a], w_a[title_a], b_rows)
    unique_b = _uncovered_at_least(lexical, b_tok[title_b], b_own[title_b], w_b[title_b], a_rows)
    shared_title = _member(a_keys[title_a], b_keys[title_b])
    token_jac = _jaccard(
        np.bincount(a_own[title_a][shared_title], minlength=n_pairs),
        np.bincount(a_own[title_a], minlength=n_pairs),
        np.bincount(b_own[title_b], minlength=n_pairs),
    )

    a_gram, a_gown = lexical.grams.gather(a_rows)
    b_gram, b_gown = lexical.grams.gather(b_rows)
    gram_space = len(lexical.gram_vocab) + 1
    shared_grams = _member(a_gown * gram_space + a_gram, b_gown * gram_space + b_gram)
    char_jac = _jaccard(
        np.bincount(a_gown[shared_grams], minlength=n_pairs),
        np.bincount(a_gown, minlength=n_pairs),
        np.bincount(b_gown, minlength=n_pairs),
    )
    for name, values in zip(FEATURES, (token_jac, idf_cos, idf_cont, char_jac), strict=True):
        out[name][pair_i, pair_j] = values
    low["unique_min"][pair_i, pair_j] = np.minimum(unique_a, unique_b)
    low["unique_max"][pair_i, pair_j] = np.maximum(unique_a, unique_b)
    may_match[pair_i, pair_j] = _shares(
        lexical, lexical.title_codes, a_rows, lexical.any_codes, b_rows
    )
    may_match[pair_i, pair_j] |= _shares(
        lexical, lexical.title_codes, b_rows, lexical.any_codes, a_rows
    )
    return ChunkLexical(out, low, may_match)


def _shares(
    lexical: LexicalRows,
    left: Ragged,
    left_rows: np.ndarray,
    right: Ragged,
    right_rows: np.ndarray,
) -> np.ndarray:
    """Per pair p: ``left`` of ``left_rows[p]`` and ``right`` of ``right_rows[p]`` share a
    label."""
    a, a_own = left.gather(left_rows)
    b, b_own = right.gather(right_rows)
    space = len(lexical.label_vocab) + 1
    hit = _member(a_own * space + a, b_own * space + b)
    return np.bincount(a_own[hit], minlength=len(left_rows)) > 0


def _uncovered_at_least(
    lexical: LexicalRows,
    tokens: np.ndarray,
    owner: np.ndarray,
    weight: np.ndarray,
    other_rows: np.ndarray,
) -> np.ndarray:
    """Per pair, a lower bound of ``token_features.uncovered``: the idf mass share of title tokens
    whose cover key the other row (title tokens and words_any) does not have."""
    n_pairs = len(other_rows)
    cover, c_own = lexical.cover.gather(other_rows)
    space = len(lexical.key_vocab) + 1
    covered = _member(owner * space + lexical.key_of[tokens >> 1], c_own * space + cover)
    total = np.bincount(owner, weight, n_pairs)
    missing = np.bincount(owner[~covered], weight[~covered], n_pairs)
    return np.where(total > 0, missing / np.where(total > 0, total, 1.0), 0.0)


def _member(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """``np.isin`` for a sorted haystack: keys ``owner * space + id`` of gathered rows are
    sorted already (owners ascend, each row's ids are stored sorted), so a binary search
    replaces isin's hashing or sorting."""
    if len(sorted_keys) == 0:
        return np.zeros(len(values), bool)
    pos = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[pos] == values


def _jaccard(shared: np.ndarray, size_a: np.ndarray, size_b: np.ndarray) -> np.ndarray:
    union = size_a + size_b - shared
    return np.where(union > 0, shared / np.maximum(union, 1), 0.0)
