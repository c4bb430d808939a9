"""Calibration: level weights, the verifier's coefficients and the merge threshold.

One small JSON file. The project ships one (``index_server/scoring/calibration.json``) fitted on
labelled pairs by ``fitrep calibrate``; a run can point at another with ``--calibration``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.domain import ALL_LEVELS, InvalidInput, Level

from index_server.storage.atomic import atomic_write_text

DEFAULT_PATH = Path(__file__).with_name("calibration.json")

DEFAULT_WEIGHTS: dict[Level, float] = {
    Level.PRIMARY: 0.45,
    Level.CONTENT: 0.15,
    Level.OBJECTIVE: 0.10,
    Level.FORM: 0.06,
    Level.AUXILIARY: 0.03,
    Level.SUBJECTIVE: 0.01,
    Level.VISUAL: 0.20,
}


@dataclass
class Calibration:
    """``p(dup) = sigmoid(bias + sum_f coef[f] * feature[f])``; duplicate when p >= threshold."""

    weights: dict[Level, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    coef: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0
    threshold: float = 0.5
    # logit added to pairs of one modality (e.g. "image_only") so that their own best
    # threshold maps onto ``threshold``
    modality_shift: dict[str, float] = field(default_factory=dict)
    version: str = "hand-set"
    notes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "weights": {level.name: w for level, w in self.weights.items()},
            "coef": self.coef,
            "bias": self.bias,
            "threshold": self.threshold,
            "modality_shift": self.modality_shift,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        try:
            weights = {Level[name]: float(w) for name, w in data["weights"].items()}
        except KeyError as exc:
            raise InvalidInput("calibration.weights", f"unknown level {exc}") from None
        return cls(
            weights={level: weights.get(level, 0.0) for level in ALL_LEVELS},
            coef={k: float(v) for k, v in data.get("coef", {}).items()},
            bias=float(data.get("bias", 0.0)),
            threshold=float(data.get("threshold", 0.5)),
            modality_shift={k: float(v) for k, v in data.get("modality_shift", {}).items()},
            version=str(data.get("version", "")),
            notes=dict(data.get("notes", {})),
        )

    @classmethod
    def load(cls, path: Path | str | None = None) -> Calibration:
        path = Path(path) if path is not None else DEFAULT_PATH
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise InvalidInput("calibration", f"file not found: {path}") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput("calibration", f"{path} is not valid JSON: {exc}") from None

    def save(self, path: Path | str) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")
