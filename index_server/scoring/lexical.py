"""The verifier's token features for a whole chunk of pairs at once, with integer arrays.

``verifier.anchor_features`` works on Python sets one pair at a time; at a million items that
is most of an assign's time. The features that carry most of the lexical weight —
``token_jaccard``, ``idf_cosine``, ``idf_containment`` and ``char_jaccard`` — are set
overlaps, so they vectorise: every row's title tokens and character 3-grams are interned
once, when the row is appended, into flat id arrays (CSR style), and a chunk's features are
sorted-key intersections over those arrays. The idf is the per-row one of
``verifier.TokenStats`` (row r judged by the document frequencies of rows 0..r), computed with
cumulative counts inside the chunk, so the values equal the per-pair verifier's (up to float
summation order). The uncovered-word shares get lower bounds
(words sharing no 4-letter cover key are surely uncovered) and model codes a may-match flag
(compatible codes share their stem). Hard gates (variant conflicts) only ever lower a
score, so the bound leaves them out. ``bounds.ChunkScores`` uses all of it to bound each
pair's score tightly; pairs that may pass are still scored by the verifier itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from fitrep.domain import Anchors

from index_server.scoring.codes import code_stem
from index_server.scoring.idf import idf, idf_weight
from index_server.scoring.verifier import char_grams

FEATURES = ("token_jaccard", "idf_cosine", "idf_containment", "char_jaccard")
LOWER_BOUNDED = ("unique_min", "unique_max")


def cover_key(word: str) -> str:
    """What two words share whenever ``verifier._covered`` lets one cover the other (equal, or
    one a prefix of the other with 4+ letters): their first four letters, or the whole word
    when it is shorter. Not sharing it proves a title word is uncovered."""
    return word[:4]


class _Ragged:
    """Append-only ragged int arrays in one flat int32 buffer (doubling) plus row offsets;
    callers store each row's values sorted (``_member`` relies on it)."""

    def __init__(self) -> None:
        self.data = np.zeros(1024, np.int32)
        self.ptr = np.zeros(1025, np.int64)
        self.rows = 0

    def append(self, values: np.ndarray) -> None:
        end = self.ptr[self.rows] + len(values)
        if end > len(self.data):
            self.data = np.resize(self.data, max(end, 2 * len(self.data)))
        if self.rows + 2 > len(self.ptr):
            self.ptr = np.resize(self.ptr, 2 * len(self.ptr))
        self.data[self.ptr[self.rows] : end] = values
        self.rows += 1
        self.ptr[self.rows] = end

    def gather(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(values, owner): the values of ``rows`` concatenated, and the index into ``rows``
        each came from."""
        starts, stops = self.ptr[rows], self.ptr[rows + 1]
        lengths = stops - starts
        owner = np.repeat(np.arange(len(rows)), lengths)
        offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return self.data[starts[owner] + offsets].astype(np.int64), owner


@dataclass
class ChunkLexical:
    """A chunk's lexical evidence, each (n, k): ``exact`` holds FEATURES as the verifier
    computes them; ``lower`` lower bounds of the
    LOWER_BOUNDED features; ``code_may_match`` False where no title code of one row shares a
    stem with the other's codes (then ``code_match`` is impossible: compatible codes share
    their stem)."""

    exact: dict[str, np.ndarray]
    lower: dict[str, np.ndarray]
    code_may_match: np.ndarray


class LexicalRows:
    """Interned token and 3-gram ids of every row, and document frequencies of the tokens.

    Token entries encode ``id * 2 + is_title_token``: the idf features use a row's title
    tokens and numbers together, ``token_jaccard`` its title tokens only (as the verifier).
    """

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._grams: dict[str, int] = {}
        self.tokens = _Ragged()
        self.grams = _Ragged()
        self._keys: dict[str, int] = {}
        self._key_of = np.zeros(1024, np.int64)  # vocab id -> cover key id
        self.cover = _Ragged()  # cover keys of each row's title tokens and words_any
        self._labels: dict[str, int] = {}  # code stems
        self.title_codes = _Ragged()  # stems of "code" (the title's model codes)
        self.any_codes = _Ragged()  # stems of "code_any" ("code" when absent), as the verifier
        self._df = np.zeros(1024, np.int64)
        self.counted = 0  # rows whose tokens are in _df

    def __len__(self) -> int:
        return self.tokens.rows

    def extend(self, anchors: Iterable[Anchors]) -> None:
        vocab, grams, keys = self._vocab, self._grams, self._keys
        for a in anchors:
            title = set(a.tokens)
            entries = set()
            for t in title | set(a.number):
                token_id = vocab.get(t)
                if token_id is None:
                    token_id = vocab[t] = len(vocab)
                    if token_id >= len(self._key_of):
                        self._key_of = np.resize(self._key_of, 2 * len(self._key_of))
                    self._key_of[token_id] = keys.setdefault(cover_key(t), len(keys))
                entries.add(token_id * 2 + (t in title))
            self.tokens.append(np.fromiter(sorted(entries), np.int64, len(entries)))
            ids = {grams.setdefault(g, len(grams)) for g in char_grams(title)}
            self.grams.append(np.fromiter(sorted(ids), np.int64, len(ids)))
            words = title | set(a.words_any)
            cover = {keys.setdefault(cover_key(w), len(keys)) for w in words}
            self.cover.append(np.fromiter(sorted(cover), np.int64, len(cover)))
            self.title_codes.append(self._label_ids(code_stem(c) for c in a.code))
            self.any_codes.append(self._label_ids(code_stem(c) for c in a.codes_any))

    def _label_ids(self, labels: Iterable[str]) -> np.ndarray:
        ids = {self._labels.setdefault(x, len(self._labels)) for x in labels}
        return np.fromiter(sorted(ids), np.int64, len(ids))

    def count_until(self, end: int) -> None:
        """Document frequencies over rows [0, end) (counting only moves forward)."""
        self._grow_df()
        if end > self.counted:
            ids, _ = self.tokens.gather(np.arange(self.counted, end))
            np.add.at(self._df, ids >> 1, 1)
            self.counted = end

    def document_frequency(self, token: str) -> int:
        """Rows among the counted ones whose title tokens or numbers include ``token``."""
        token_id = self._vocab.get(token)
        return int(self._df[token_id]) if token_id is not None else 0

    def _grow_df(self) -> None:
        if len(self._vocab) > len(self._df):
            grown = np.zeros(2 * len(self._vocab), np.int64)
            grown[: len(self._df)] = self._df
            self._df = grown

    def _df_before(self, row: int) -> np.ndarray:
        """Document frequencies over rows [0, row)."""
        self.count_until(row)
        if self.counted == row:
            return self._df
        df = self._df.copy()
        ids, _ = self.tokens.gather(np.arange(row, self.counted))
        np.subtract.at(df, ids >> 1, 1)
        return df

    def chunk_features(self, rows: np.ndarray, cands: np.ndarray) -> ChunkLexical:
        """Features of ``rows[i]`` against ``cands[i, j]`` (-1 = none), each (n, k), each
        pair judged by the token statistics of rows 0..rows[i] (see ``ChunkLexical``)."""
        n, k = cands.shape
        out = {name: np.zeros((n, k)) for name in FEATURES}
        low = {name: np.zeros((n, k)) for name in LOWER_BOUNDED}
        may_match = np.zeros((n, k), bool)
        valid = cands >= 0
        if not valid.any():
            return ChunkLexical(out, low, may_match)
        lo, hi = int(rows.min()), int(rows.max())
        df_lo = self._df_before(lo)
        pair_i, pair_j = np.nonzero(valid)
        a_rows, b_rows = rows[pair_i], cands[pair_i, pair_j]
        n_pairs = len(pair_i)

        # tokens: weights idf(t)^2 with the df and document count of the deciding row
        block, block_owner = self.tokens.gather(np.arange(lo, hi + 1))
        span = hi - lo + 1
        block_keys = np.sort((block >> 1) * span + block_owner)
        a_tok, a_own = self.tokens.gather(a_rows)
        b_tok, b_own = self.tokens.gather(b_rows)

        def weight(entries: np.ndarray, owner: np.ndarray) -> np.ndarray:
            tok, row = entries >> 1, a_rows[owner]
            start = np.searchsorted(block_keys, tok * span, "left")
            upto = np.searchsorted(block_keys, tok * span + (row - lo), "right")
            df = df_lo[tok] + (upto - start)
            return idf_weight(row + 1, df)  # type: ignore[return-value]

        w_a, w_b = weight(a_tok, a_own), weight(b_tok, b_own)
        mass_a = np.bincount(a_own, w_a, n_pairs)
        mass_b = np.bincount(b_own, w_b, n_pairs)
        vocab_size = 2 * len(self._vocab) + 2
        a_keys = a_own * vocab_size + (a_tok >> 1)
        b_keys = b_own * vocab_size + (b_tok >> 1)
        shared = _member(a_keys, b_keys)
        mass_shared = np.bincount(a_own[shared], w_a[shared], n_pairs)
        both = (mass_a > 0) & (mass_b > 0)
        safe_a, safe_b = np.where(both, mass_a, 1.0), np.where(both, mass_b, 1.0)
        idf_cos = np.where(both, mass_shared / np.sqrt(safe_a * safe_b), 0.0)
        idf_cont = np.where(both, mass_shared / np.minimum(safe_a, safe_b), 0.0)

        title_a, title_b = (a_tok & 1) == 1, (b_tok & 1) == 1
        unique_a = self._uncovered_at_least(a_tok[title_a], a_own[title_a], w_a[title_a], b_rows)
        unique_b = self._uncovered_at_least(b_tok[title_b], b_own[title_b], w_b[title_b], a_rows)
        shared_title = _member(a_keys[title_a], b_keys[title_b])
        token_jac = _jaccard(
            np.bincount(a_own[title_a][shared_title], minlength=n_pairs),
            np.bincount(a_own[title_a], minlength=n_pairs),
            np.bincount(b_own[title_b], minlength=n_pairs),
        )

        a_gram, a_gown = self.grams.gather(a_rows)
        b_gram, b_gown = self.grams.gather(b_rows)
        gram_space = len(self._grams) + 1
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
        may_match[pair_i, pair_j] = self._shares(self.title_codes, a_rows, self.any_codes, b_rows)
        may_match[pair_i, pair_j] |= self._shares(self.title_codes, b_rows, self.any_codes, a_rows)
        return ChunkLexical(out, low, may_match)

    def _shares(
        self, left: _Ragged, left_rows: np.ndarray, right: _Ragged, right_rows: np.ndarray
    ) -> np.ndarray:
        """Per pair p: ``left`` of ``left_rows[p]`` and ``right`` of ``right_rows[p]`` share a
        label."""
        a, a_own = left.gather(left_rows)
        b, b_own = right.gather(right_rows)
        space = len(self._labels) + 1
        hit = _member(a_own * space + a, b_own * space + b)
        return np.bincount(a_own[hit], minlength=len(left_rows)) > 0

    def _uncovered_at_least(
        self, tokens: np.ndarray, owner: np.ndarray, weight: np.ndarray, other_rows: np.ndarray
    ) -> np.ndarray:
        """Per pair, a lower bound of ``verifier._uncovered``: the idf mass share of title tokens
        whose cover key the other row (title tokens and words_any) does not have."""
        n_pairs = len(other_rows)
        cover, c_own = self.cover.gather(other_rows)
        space = len(self._keys) + 1
        covered = _member(owner * space + self._key_of[tokens >> 1], c_own * space + cover)
        total = np.bincount(owner, weight, n_pairs)
        missing = np.bincount(owner[~covered], weight[~covered], n_pairs)
        return np.where(total > 0, missing / np.where(total > 0, total, 1.0), 0.0)


class LexicalStats:
    """``verifier.IdfStats`` over a ``LexicalRows``: the engine counts document frequencies once,
    in arrays, for the chunk features and the per-pair verifier alike (a second count in a
    Python Counter cost seconds per million rows after each restart)."""

    def __init__(self, rows: LexicalRows) -> None:
        self.rows = rows

    @property
    def docs(self) -> int:
        return self.rows.counted

    def extend_to(self, anchors: Sequence[Anchors], end: int | None = None) -> None:
        """Count rows up to ``end`` (the rows' anchors are already interned in ``rows``)."""
        self.rows.count_until(len(self.rows) if end is None else min(end, len(self.rows)))

    def idf(self, token: str) -> float:
        df = self.rows.document_frequency(token)
        return idf(self.rows.counted, df)


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
