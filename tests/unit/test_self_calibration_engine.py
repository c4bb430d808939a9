"""The self-calibration in the index: the fallback on a small catalogue, the fitted weights in
``explain``, in summary.json and across a restart."""

from __future__ import annotations

import json

import numpy as np
from fitrep.cli import app
from typer.testing import CliRunner

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
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
