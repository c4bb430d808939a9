"""Chunk-wide token features equal the per-pair verifier's, idf of each deciding row included."""

from __future__ import annotations

import numpy as np
from fitrep.domain import Anchors

from index_server.rows.tokens import LexicalRows
from index_server.scoring.features import anchor_features
from index_server.scoring.lexical import FEATURES, LOWER_BOUNDED, chunk_features
from index_server.scoring.token_features import TokenStats

CODES = ["lmvm2085", "lmvm2085wh", "t0441", "t0442", "av23292", "23292", "dscw120", "mx700"]
COLOURS = ["black", "cyan", "pink", "edition:upgrade", "edition:mac"]
WORDS = ["sony", "cybershot", "camera", "pink", "black", "canon", "pixma", "printer", "ink", "oat"]


def _anchors(n: int, seed: int) -> list[Anchors]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        tokens = sorted({WORDS[i] for i in rng.integers(0, len(WORDS), rng.integers(0, 6))})
        numbers = [str(v) for v in rng.integers(1, 5, rng.integers(0, 3))]
        # a number that is also a title token, and rows with nothing at all
        words = [w + "ing" for w in tokens[:2]] + [w[:4] for w in tokens[2:3]]  # prefix cover
        row = {"tokens": tokens + numbers[:1], "number": numbers, "words_any": words}
        codes = [CODES[i] for i in rng.integers(0, len(CODES), rng.integers(0, 3))]
        if codes or rng.random() < 0.3:
            row["code"] = codes
        if rng.random() < 0.5:  # joined codes from the description, or an empty list
            row["code_any"] = codes + [CODES[i] for i in rng.integers(0, len(CODES), 2)][:1]
        row["variant"] = [COLOURS[i] for i in rng.integers(0, len(COLOURS), rng.integers(0, 3))]
        out.append(Anchors.from_json(row))
    return out


def test_chunk_features_equal_the_verifier_row_by_row():
    anchors = _anchors(300, seed=0)
    lexical = LexicalRows()
    lexical.extend(anchors)
    rows = np.arange(200, 260)
    rng = np.random.default_rng(1)
    cands = rng.integers(0, 200, (len(rows), 7))
    cands[::5, -2:] = -1
    chunk = chunk_features(lexical, rows, cands)
    got, low = chunk.exact, chunk.lower
    tight = total = may_not = 0
    for i, row in enumerate(rows.tolist()):
        stats = TokenStats.of(anchors[: row + 1])  # as the engine counts when deciding a row
        for j, c in enumerate(cands[i].tolist()):
            if c < 0:
                assert all(got[name][i, j] == 0 for name in FEATURES)
                continue
            want = anchor_features(anchors[row], anchors[c], stats)
            for name in FEATURES:
                assert abs(got[name][i, j] - want[name]) < 1e-9, (name, row, c)
            if want["code_match"]:  # the bound may only rule out what cannot match
                assert chunk.code_may_match[i, j], (row, c)
            may_not += not chunk.code_may_match[i, j]
            for name in LOWER_BOUNDED:
                assert low[name][i, j] <= want[name] + 1e-9, (name, row, c)
                tight += abs(low[name][i, j] - want[name]) < 1e-9
                total += 1
    assert tight > 0.8 * total  # the bounds are mostly exact, not trivially 0
    assert may_not > 0.2 * total / 2  # and codes do rule pairs out


def test_features_do_not_depend_on_what_was_counted_before():
    anchors = _anchors(120, seed=2)
    fresh, ahead = LexicalRows(), LexicalRows()
    fresh.extend(anchors)
    ahead.extend(anchors)
    ahead.count_until(120)  # e.g. a later chunk was decided first
    behind = LexicalRows()  # the join still deciding the chunk before (``Clusterer``)
    behind.extend(anchors)
    behind.count_until(45)
    rows, cands = np.arange(60, 80), np.tile(np.arange(20, 40), (20, 1))
    a = chunk_features(fresh, rows, cands).exact
    b = chunk_features(ahead, rows, cands).exact
    c = chunk_features(behind, rows, cands).exact
    fresh.count_until(60)
    want = chunk_features(fresh, rows, cands).exact  # counted exactly up to the chunk
    for name in FEATURES:
        for got in (a, b, c):
            np.testing.assert_allclose(got[name], want[name], atol=1e-12)
    assert a["idf_cosine"].max() > 0
    assert (ahead.counted, behind.counted) == (120, 45)  # the count did not move


def test_df_as_of_counts_rows_before_end_without_moving_the_count() -> None:
    """The self-calibration reads the idf over every stored row before the join has counted
    them, and ``explain`` the idf as of the pair's later row; the join must still decide row i
    with the counts of rows 0..i. Rows that arrive later are counted once asked for."""
    anchors = _anchors(60, 3)
    rows = LexicalRows()
    rows.extend(anchors[:40])
    rows.count_until(20)
    for end in (0, 1, 10, 20, 33, 40):
        counted = LexicalRows()
        counted.extend(anchors[:40])
        counted.count_until(end)
        for token, token_id in rows.vocab.items():
            assert rows.df_as_of(token_id, end) == counted.document_frequency(token)
    assert rows.counted == 20  # the join's count is where it was
    rows.extend(anchors[40:])  # more rows: the posting lists follow
    whole = TokenStats.of(anchors)
    for token, token_id in rows.vocab.items():
        assert rows.df_as_of(token_id, 60) == whole.rows.document_frequency(token)
    assert rows.df_as_of(len(rows.vocab) + 5, 60) == 0  # an id past the vocabulary
    assert rows.counted == 20
