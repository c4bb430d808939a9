"""Title-token evidence of a pair and the document frequencies it is weighted by: one module.

The document frequencies are counted once, in ``rows.tokens.LexicalRows`` (the index's
interned token arrays, or a table built for the items of a pair file); ``TokenStats`` reads
the idf from them. ``token_features`` is the per-pair computation on Python sets;
``lexical.chunk_features`` computes the same overlaps for a whole chunk with integer arrays
(``tests/unit/test_lexical.py`` holds the two equal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from fitrep.domain import Anchors

from index_server.rows.tokens import LexicalRows, char_grams
from index_server.scoring.idf import idf

# In the order a pair's features list them (the logistic sum runs in that order).
TOKEN_FEATURES = (
    "token_jaccard",
    "idf_cosine",
    "idf_containment",
    "char_jaccard",
    "unique_min",
    "unique_both",
    "unique_max",
)


class TokenStats:
    """The idf of title tokens over the rows counted so far in ``rows`` (label-free).

    Learned from each input itself (the catalogue being deduplicated, the items of a pair
    file), so "rare" means rare *here*: a brand that names every item of a one-brand
    catalogue carries no evidence, a model code shared by two items carries a lot. The index
    decides row i with the counts of rows 0..i (``RowScorer.count_tokens``), so the idf an
    item is judged by never depends on items that arrived after it (batch == incremental).
    """

    def __init__(self, rows: LexicalRows | None = None) -> None:
        self.rows = rows if rows is not None else LexicalRows()
        # idf of the tokens asked while one row is decided (its pairs share its tokens)
        self._idf: dict[str, float] = {}
        self._idf_docs = -1

    @classmethod
    def of(cls, anchors: Iterable[Anchors]) -> TokenStats:
        """Counts over all of ``anchors`` (the items of a pair file)."""
        rows = LexicalRows()
        rows.extend(anchors)
        rows.count_until(len(rows))
        return cls(rows)

    @property
    def docs(self) -> int:
        return self.rows.counted

    def idf(self, token: str) -> float:
        docs = self.rows.counted
        if docs != self._idf_docs:
            self._idf, self._idf_docs = {}, docs
        value = self._idf.get(token)
        if value is None:
            value = self._idf[token] = idf(docs, self.rows.document_frequency(token))
        return value


class TokenStatsAsOf(TokenStats):
    """The counts of rows [0, end) only: the idf the index judged row ``end - 1`` by (it
    decides row i with the counts of rows 0..i), so ``explain`` scores a pair as it was
    decided, not with the counts of rows that arrived later."""

    def __init__(self, rows: LexicalRows, end: int) -> None:
        super().__init__(rows)
        self._end = end  # the join's own count stays where it is (``LexicalRows.df_as_of``)

    @property
    def docs(self) -> int:
        return self._end

    def idf(self, token: str) -> float:
        value = self._idf.get(token)
        if value is None:
            token_id = self.rows.vocab.get(token)
            df = self.rows.df_as_of(token_id, self._end) if token_id is not None else 0
            value = self._idf[token] = idf(self._end, df)
        return value


def idf_overlap(tok_a: set[str], tok_b: set[str], stats: TokenStats | None) -> tuple[float, float]:
    """(cosine, containment) of binary token vectors weighted by idf (uniform without stats).

    Containment divides the shared mass by the smaller side's: a short offer title that is
    wholly inside a long one scores 1 there while its cosine stays low.
    """
    if not tok_a or not tok_b:
        return 0.0, 0.0
    weight = (lambda t: stats.idf(t) ** 2) if stats is not None else (lambda t: 1.0)
    shared = sum(weight(t) for t in tok_a & tok_b)
    mass_a, mass_b = sum(weight(t) for t in tok_a), sum(weight(t) for t in tok_b)
    return shared / math.sqrt(mass_a * mass_b), shared / min(mass_a, mass_b)


def covered(token: str, other: set[str]) -> bool:
    """Exact, or one spelling extends the other ("landscap" ~ "landscaping", "spy" ~ "spysweeper"
    is not: the shorter must have 4+ letters; ``rows.tokens.cover_key`` relies on it)."""
    if token in other:
        return True
    return any(
        (len(token) >= 4 and u.startswith(token)) or (len(u) >= 4 and token.startswith(u))
        for u in other
    )


def uncovered(tokens: set[str], other: set[str], stats: TokenStats | None) -> float:
    """Share of ``tokens``' idf mass that the other item never mentions."""
    if not tokens:
        return 0.0
    weight = {t: stats.idf(t) ** 2 if stats is not None else 1.0 for t in tokens}
    total = sum(weight.values())
    missing = sum(weight[t] for t in tokens if not covered(t, other))
    return missing / total if total else 0.0


def jaccard(a: set[str], b: set[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 0.0


def token_features(
    a: Anchors,
    b: Anchors,
    stats: TokenStats | None,
    skip: frozenset[str] = frozenset(),
    known: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """``TOKEN_FEATURES`` of two items' titles, with the words in ``skip`` set aside (the
    family relaxes the words naming variant values). ``known`` holds the overlaps
    (``lexical.FEATURES``) when they were already computed for a whole chunk of pairs."""
    tok_a, tok_b = set(a.tokens), set(b.tokens)
    if skip:  # (a set's iteration order, hence the float sums below, kept as they were)
        tok_a, tok_b = tok_a - skip, tok_b - skip
    if known is None:
        num_a, num_b = set(a.number), set(b.number)
        idf_cos, idf_contained = idf_overlap(tok_a | num_a, tok_b | num_b, stats)
        token_jac = jaccard(tok_a, tok_b)
        char_jac = jaccard(char_grams(tok_a), char_grams(tok_b))
    else:
        idf_cos, idf_contained = known["idf_cosine"], known["idf_containment"]
        token_jac, char_jac = known["token_jaccard"], known["char_jaccard"]
    # Different products of one series ("professor teaches windows xp" vs "... excel & word")
    # each name something the other never mentions; a short title inside a long one does not.
    uniq_a = uncovered(tok_a, tok_b | (set(b.words_any) - skip), stats)
    uniq_b = uncovered(tok_b, tok_a | (set(a.words_any) - skip), stats)
    return {
        "token_jaccard": token_jac,
        "idf_cosine": idf_cos,
        "idf_containment": idf_contained,
        "char_jaccard": char_jac,
        "unique_min": min(uniq_a, uniq_b),
        # a word swapped for another ("laser checks" vs "continuous checks"), not added
        "unique_both": float(min(uniq_a, uniq_b) > 0),
        "unique_max": max(uniq_a, uniq_b),
    }
