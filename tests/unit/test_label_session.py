"""`fitrep label`'s session on a scripted index: resume, undo, skip, refit every N labels."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from fitrep.domain import Explanation, Neighbor, NotFound
from fitrep.labelling.labels import Answer, LabelLog
from fitrep.labelling.pool import gather
from fitrep.labelling.session import LabelSession, run_loop
from rich.console import Console

from index_server.scoring.calibration import Calibration
from index_server.scoring.logistic import LogisticModel

THRESHOLD = 0.3
BASE = Calibration(model=LogisticModel(coef={"cos_primary": 6.0}, bias=-3.85), threshold=THRESHOLD)


class FakeIndex:
    """40 pairs (i, i+1) of items in clusters of four; the base model knows only cos_primary,
    and truth follows a second feature it ignores."""

    def __init__(self) -> None:
        rng = np.random.default_rng(0)
        self.ids = [f"i{n:02d}" for n in range(41)]
        self.features = {
            (self.ids[n], self.ids[n + 1]): {
                "cos_primary": float(rng.random()),
                "token_jaccard": float(rng.random()),
            }
            for n in range(40)
        }

    def query(self, item_ids=(), items=(), k=10):
        out = []
        for q in item_ids:
            n = self.ids.index(q)
            near = [self.ids[m] for m in (n - 1, n + 1) if 0 <= m < len(self.ids)]
            out.append((q, [Neighbor(o, "", self._p(q, o)) for o in near]))
        return out

    def _p(self, a: str, b: str) -> float:
        row = self.features.get((a, b)) or self.features.get((b, a))
        if row is None:
            raise NotFound("item", b)
        return float(1 / (1 + np.exp(-(BASE.model.bias + 6.0 * row["cos_primary"]))))

    def explain(self, item_a, item_b):
        p = self._p(item_a, item_b)
        row = self.features.get((item_a, item_b)) or self.features[item_b, item_a]
        clusters = [f"c{self.ids.index(i) // 4}" for i in (item_a, item_b)]
        return Explanation(item_a, item_b, p, THRESHOLD, p >= THRESHOLD, [], [], *clusters, row)

    def truth(self, a: str, b: str) -> int:
        return int(self.explain(a, b).features["token_jaccard"] > 0.5)


class Recorder:
    """A view that remembers which pairs were shown."""

    def __init__(self) -> None:
        self.shown: list[tuple[str, str]] = []

    def show(self, exp, probability, threshold, header):
        self.shown.append((exp.item_a, exp.item_b))


def _session(path, every=10, written=None, index=None):
    index = index or FakeIndex()
    log = LabelLog(path)
    pool = gather(index, index.ids, THRESHOLD, neighbours=2, size=100, include=log.decided())
    on_refit = written.append if written is not None else None
    return LabelSession(pool, log, BASE, every, on_refit=on_refit), index


def _answer(session, index, n):
    """Give ``n`` true labels to the pairs the session asks about."""
    for _ in range(n):
        i = session.next_pair()
        exp = session.pool.pairs[i]
        session.answer(i, index.truth(exp.item_a, exp.item_b))


def test_a_restart_continues_with_the_pair_that_came_next(tmp_path):
    path = tmp_path / "labels.jsonl"
    first, index = _session(path)
    _answer(first, index, 13)  # one refit, and three labels into the next round
    expected = first.pool.pairs[first.next_pair()]
    again, _ = _session(path)
    assert again.fitted_on == 10
    got = again.pool.pairs[again.next_pair()]
    assert (got.item_a, got.item_b) == (expected.item_a, expected.item_b)
    assert (got.item_a, got.item_b) not in {a.key for a in LabelLog(path)}
    assert again.calibration().to_json() == first.calibration().to_json()


def test_a_round_asks_about_each_cluster_once(tmp_path):
    session, index = _session(tmp_path / "labels.jsonl")
    _answer(session, index, 5)
    clusters = [set(session.pool.groups[session.pool.position[a.key]][:2]) for a in session.log]
    assert sum(len(c) for c in clusters) == len(set().union(*clusters))


def test_undo_drops_the_last_answer_and_asks_again(tmp_path):
    session, index = _session(tmp_path / "labels.jsonl")
    _answer(session, index, 2)
    asked = session.next_pair()
    session.answer(asked, 1)
    assert len(session.log) == 3
    undone = session.undo()
    assert undone is not None and undone.label == 1
    assert len(LabelLog(tmp_path / "labels.jsonl")) == 2
    assert session.next_pair() == asked


def test_refits_every_n_labels_and_undo_reverts_them(tmp_path):
    written: list[Calibration] = []
    session, index = _session(tmp_path / "labels.jsonl", every=10, written=written)
    _answer(session, index, 9)
    assert written == [] and session.fitted_on == 0
    _answer(session, index, 1)
    assert len(written) == 1 and written[0].notes["labels"] == 10
    assert written[0].model.bias != BASE.model.bias
    session.undo()
    assert len(written) == 2 and written[1].notes["labels"] == 0
    assert written[1].model.bias == BASE.model.bias  # back to the base model


def test_the_refit_learns_what_the_labels_say(tmp_path):
    session, index = _session(tmp_path / "labels.jsonl", every=10)
    _answer(session, index, 30)
    p = np.array(session.probabilities())
    y = np.array([index.truth(e.item_a, e.item_b) for e in session.pool.pairs])
    base = 1 / (1 + np.exp(-session.pool.base_logits))
    # the base ignores the feature the truth follows; the layer has picked it up
    assert np.corrcoef(p, y)[0, 1] > np.corrcoef(base, y)[0, 1] + 0.1


def test_skips_are_saved_not_counted_and_not_asked_again(tmp_path):
    session, _ = _session(tmp_path / "labels.jsonl", every=1)
    skipped = session.next_pair()
    assert session.answer(skipped, None) is False
    assert session.fitted_on == 0 and session.next_pair() != skipped
    line = json.loads((tmp_path / "labels.jsonl").read_text())
    assert line["label"] is None


def test_the_loop_reads_scripted_answers(tmp_path):
    session, _ = _session(tmp_path / "labels.jsonl", every=2)
    view, out = Recorder(), io.StringIO()
    script = io.StringIO("y\nwhat\nn\ns\nu\nn\nq\n")
    outcome = run_loop(session, view, script, Console(file=out, width=100))
    labels = [a.label for a in LabelLog(tmp_path / "labels.jsonl")]
    assert labels == [1, 0, 0]  # the skip was undone
    assert outcome.labels == 3 and outcome.duplicates == 1 and outcome.fitted_on == 2
    text = out.getvalue()
    assert "refitted" in text and "undid" in text and "y = duplicates" in text
    # shown: P0 (y), P1 ("what": asked again), P1 (n), P2 (s), P3 (u), P2 again (n), next (q)
    assert len(view.shown) == 7
    assert view.shown[1] == view.shown[2] and view.shown[3] == view.shown[5]
    assert len({view.shown[i] for i in (0, 1, 3)}) == 3


def test_end_of_input_quits_and_keeps_the_answers(tmp_path):
    session, _ = _session(tmp_path / "labels.jsonl")
    outcome = run_loop(session, Recorder(), io.StringIO("y\n"), Console(file=io.StringIO()))
    assert outcome.labels == 1 and len(LabelLog(tmp_path / "labels.jsonl")) == 1


def test_a_torn_last_line_is_dropped_and_a_bad_line_named(tmp_path):
    path = tmp_path / "labels.jsonl"
    good = Answer("a", "b", 1).to_line()
    path.write_text(good + "\n" + '{"item_a": "c", "ite')
    log = LabelLog(path)
    assert log.torn and len(log) == 1 and path.read_text() == good + "\n"
    path.write_text('{"item_a": "c"}\n' + good + "\n")
    with pytest.raises(ValueError, match="labels.jsonl:1"):
        LabelLog(path)


def test_labels_of_items_gone_from_the_run_are_kept_but_unused(tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(Answer("gone", "i01", 1).to_line() + "\n")
    session, _ = _session(path)
    assert len(session.log) == 1 and session.log.labelled() and not session._usable()
