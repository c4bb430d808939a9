"""Calibration: the level weights, the merge threshold and the pair model a scorer reads.

One small JSON file. The project ships one (``index_server/scoring/calibration.json``) fitted on
labelled pairs by ``fitrep calibrate``; a run can point at another with ``--calibration``. The
three parts are read by different stages: the level weights by retrieval (the weighted
concatenation) and explanations, the threshold by the join, the model by the scorer the file
names (``"scorer"``, ``scorer.SCORERS``; "logistic" when absent), which alone knows the
model's keys.

A calibration is fitted on one encoder's vectors (``encoder``: the model name the vectors are
labelled with): its coefficients read that encoder's cosines. The project ships one per text
encoder (``calibration.json`` for MiniLM, ``calibration_static.json`` for the static model);
``Calibration.load(encoder=...)`` picks the one fitted on the vectors it will score.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.domain import ALL_LEVELS, InvalidInput, Level

from index_server.integration import LevelLayout
from index_server.scoring.scorer import DEFAULT_SCORER, PairModel, PairScorer, scorer_class
from index_server.scoring.token_features import TokenStats
from index_server.storage.atomic import atomic_write_text

DEFAULT_PATH = Path(__file__).with_name("calibration.json")
SHIPPED_GLOB = "calibration*.json"  # the shipped calibrations, one per encoder, beside this file

DEFAULT_WEIGHTS: dict[Level, float] = {
    Level.PRIMARY: 0.45,
    Level.CONTENT: 0.15,
    Level.OBJECTIVE: 0.10,
    Level.FORM: 0.06,
    Level.AUXILIARY: 0.03,
    Level.SUBJECTIVE: 0.01,
    Level.VISUAL: 0.20,
}


def _model_of(scorer: str, data: dict[str, Any]) -> PairModel:
    model: PairModel = scorer_class(scorer).model_from_json(data)
    return model


@dataclass
class Calibration:
    """Level weights, threshold (duplicate when the scorer's p >= threshold) and the model of
    the scorer called ``scorer`` (with no evidence fitted: a constant 0.5)."""

    weights: dict[Level, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = 0.5
    model: PairModel = field(default_factory=lambda: _model_of(DEFAULT_SCORER, {}))
    scorer: str = DEFAULT_SCORER
    version: str = "hand-set"
    notes: dict[str, Any] = field(default_factory=dict)
    encoder: str = ""  # the encoder whose vectors it was fitted on; "" when not recorded

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "encoder": self.encoder,
            "scorer": self.scorer,
            "weights": {level.name: w for level, w in self.weights.items()},
            **self.model.to_json(),
            "threshold": self.threshold,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        try:
            weights = {Level[name]: float(w) for name, w in data["weights"].items()}
        except KeyError as exc:
            raise InvalidInput("calibration.weights", f"unknown level {exc}") from None
        scorer = str(data.get("scorer", DEFAULT_SCORER))
        return cls(
            weights={level: weights.get(level, 0.0) for level in ALL_LEVELS},
            threshold=float(data.get("threshold", 0.5)),
            model=_model_of(scorer, data),
            scorer=scorer,
            version=str(data.get("version", "")),
            notes=dict(data.get("notes", {})),
            encoder=str(data.get("encoder", "")),
        )

    @classmethod
    def load(cls, path: Path | str | None = None, encoder: str = "") -> Calibration:
        """``path``, else the shipped calibration fitted on ``encoder``'s vectors
        (``shipped_path``)."""
        path = Path(path) if path is not None else shipped_path(encoder)
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InvalidInput("calibration", f"file not found: {path}") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput("calibration", f"{path} is not valid JSON: {exc}") from None

    def save(self, path: Path | str) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")


def shipped_path(encoder: str = "") -> Path:
    """The shipped calibration fitted on ``encoder``'s vectors; the default one (MiniLM's)
    when ``encoder`` is "" or no shipped file names it."""
    if encoder:
        for path in sorted(DEFAULT_PATH.parent.glob(SHIPPED_GLOB)):
            try:
                if json.loads(path.read_text()).get("encoder") == encoder:
                    return path
            except (OSError, json.JSONDecodeError):
                continue
    return DEFAULT_PATH


def create_scorer(
    calibration: Calibration, layout: LevelLayout, stats: TokenStats | None = None
) -> PairScorer:
    """The scorer ``calibration`` names, over ``layout``'s levels; ``stats`` gives the idf of
    title tokens (none counted when left out)."""
    scorer: PairScorer = scorer_class(calibration.scorer)(calibration, layout, stats)
    return scorer
