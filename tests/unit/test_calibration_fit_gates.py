"""Which vetoed pairs the calibration fit leaves out (``calibration_fit.FIT_GATES``)."""

from __future__ import annotations

import numpy as np

from index_server.scoring.calibration_fit import fit_calibration
from index_server.scoring.variant_gates import SUBSTITUTION_GATE


def _rows(seed: int = 0) -> tuple[list[dict[str, float]], list[int]]:
    """Duplicates and non-duplicates told apart by cos_primary; a third of the
    non-duplicates are brand swaps the typed-alignment veto decides, and only they carry
    brand_conflict."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(300):
        dup = i % 3 == 0
        swap = not dup and i % 3 == 1
        rows.append(
            {
                "cos_primary": float(rng.normal(0.9 if dup or swap else 0.5, 0.08)),
                "brand_conflict": 1.0 if swap else 0.0,
                SUBSTITUTION_GATE: 1.0 if swap else 0.0,
            }
        )
        labels.append(int(dup))
    return rows, labels


def test_pairs_the_substitution_veto_decides_still_teach_the_fit():
    # Left out (the fit before fitted-10's fix), brand_conflict never varied in the fit and
    # kept no weight: a brand swap the veto misses elsewhere was then judged on similarity.
    rows, labels = _rows()
    cal = fit_calibration(rows, labels)
    assert cal.model.coef.get("brand_conflict", 0.0) < -1.0
    assert cal.notes["vetoed_pairs"] == 0  # no gate but the substitution veto fired


def test_the_threshold_is_chosen_as_pairs_are_decided_with_every_veto():
    # the swaps look like duplicates by similarity; had they counted with their fitted
    # probability, the out-of-fold F1 the threshold is chosen on would be far lower
    rows, labels = _rows()
    cal = fit_calibration(rows, labels)
    assert cal.notes["out_of_fold_f1"] > 0.9
