"""The self-calibration in the index: the fallback on a small catalogue, the fitted weights in
``explain``, in summary.json and across a restart."""

from __future__ import annotations

import json

import numpy as np
from fitrep.cli import app
from typer.testing import CliRunner

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring.bounds import ChunkScores
from index_server.scoring.catalogue_fit import SelfCalibration
from index_server.scoring.comparisons import COMPARISONS
from index_server.scoring.self_calibration import LEVELS


def _against_words() -> SelfCalibration:
    """A fit that says: in this catalogue, the title's words (whatever they show) are worth
    6 bits less than the shipped prior thought."""
    weights = np.zeros((len(COMPARISONS), LEVELS))
    weights[COMPARISONS.index("word"), :] = -6.0
    return SelfCalibration(
        weights=weights,
        prior_weights=np.zeros_like(weights),
        fitted=True,
        reason="test",
        scope="all",
    )


def test_a_small_catalogue_is_judged_by_the_shipped_calibration(fast_items):
    on = IndexEngine()
    with_fit = on.build(fast_items)
    off = IndexEngine(config=IndexConfig(self_calibration="off"))
    without = off.build(fast_items)
    assert not on.self_calibration.fitted
    assert "candidate pairs" in on.self_calibration.reason
    assert [a.cluster_id for a in with_fit] == [a.cluster_id for a in without]
    assert [a.confidence for a in with_fit] == [a.confidence for a in without]
    exp = on.explain(fast_items[0].item_id, fast_items[1].item_id)
    assert not any(k.startswith("selfcal_") for k in exp.features)


def test_fitted_weights_enter_the_score_and_explain(tmp_path, fast_items):
    engine = IndexEngine(tmp_path)
    engine.build(fast_items)
    a, b = fast_items[0].item_id, fast_items[1].item_id
    before = engine.explain(a, b)
    engine.state.use_self_calibration(_against_words())
    after = engine.explain(a, b)
    assert after.features["selfcal_word"] == -6.0
    assert set(after.features) >= {f"selfcal_{n}" for n in COMPARISONS} | {"selfcal_logit"}
    assert after.features["selfcal_logit"] == round(-6.0 * np.log(2.0), 4)
    assert after.score < before.score
    # a fit is stored with the index and comes back after a restart
    engine.store.commit(meta={"self_calibration": engine.self_calibration.to_json()})
    engine.close()
    again = IndexEngine(tmp_path)
    assert again.self_calibration.fitted
    assert again.explain(a, b).features["selfcal_logit"] == after.features["selfcal_logit"]
    again.close()


def test_summary_json_says_how_the_catalogue_was_calibrated(tmp_path):
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer"},
        {"id": "b", "title": "canon pixma mx700 multifunction printer"},
        {"id": "c", "title": "Epson T0441 black ink cartridge"},
    ]
    path = tmp_path / "cat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["dedup", str(path), "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    fitted = summary["self_calibration"]
    assert fitted["fitted"] is False  # three items: the shipped calibration decides
    assert set(fitted["weights_bits"]) == set(COMPARISONS)


def test_the_report_draws_the_fitted_weights():
    from fitrep.report.weights import weights_chart

    fit = _against_words().to_json()
    svg = weights_chart(fit)
    assert svg.startswith("<svg") and "word: agree" in svg and "-6.00 bits here" in svg
    assert "brand: agree" not in svg  # a level without weight is not drawn
    assert "EM fit -6.00" in svg
    assert "Not fitted" in weights_chart({"fitted": False, "reason": "12 candidate pairs < 2000"})


def test_the_chunk_bound_covers_a_raising_correction(tmp_path):
    """A correction that raises scores (scope "all") is added to the chunk bound, so the
    join's pruning still never skips a pair that could pass."""
    from tests.unit.test_bounds import HAND_SET, synthetic_items

    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(HAND_SET))
    engine = IndexEngine(config=IndexConfig(calibration=path, self_calibration="off"))
    engine.build(synthetic_items(300))
    verifier = engine.verifier
    verifier.adjust = lambda a, b, f: 3.0

    def bounds_and_scores() -> tuple[np.ndarray, np.ndarray]:
        rows = list(range(100, 300))
        scores = ChunkScores(
            verifier,
            engine.rows.vectors,
            engine.rows.present,
            engine.rows.codes,
            engine.rows.images,
            np.asarray(rows),
            engine.candidates.candidates(rows),
        )
        bounds, exact = [], []
        for i, row in enumerate(rows):
            if cands := scores.candidates(i):
                bounds += scores.upper_bounds(i)
                exact += engine.scorer.score(row, cands).tolist()
        return np.asarray(bounds), np.asarray(exact)

    verifier.max_adjustment = 0.0
    bounds, exact = bounds_and_scores()
    assert (bounds < exact).any()  # without it the bound no longer holds
    verifier.max_adjustment = 3.0
    bounds, exact = bounds_and_scores()
    assert len(exact) > 200 and (bounds >= exact).all()
    engine.close()


def test_self_calibration_is_turned_off_by_a_flag(tmp_path):
    from index_server.transport.config import config_from_args

    assert config_from_args(["--self-calibration", "off"]).index.self_calibration == "off"
    path = tmp_path / "cat.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "Canon PIXMA MX700"}) + "\n")
    out = tmp_path / "run"
    args = ["dedup", str(path), "--out", str(out), "--no-progress", "--self-calibration"]
    bad = CliRunner().invoke(app, [*args, "sometimes"])
    assert bad.exit_code != 0 and "--self-calibration" in bad.output and not out.exists()
    assert CliRunner().invoke(app, [*args, "off"]).exit_code == 0
