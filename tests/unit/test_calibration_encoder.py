"""One shipped calibration per text encoder: a coefficient reads one encoder's cosines, so
the index judges with the calibration fitted on the vectors it holds."""

from __future__ import annotations

from fitrep.domain import EmbeddedItem, LevelEmbeddings

from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from index_server.scoring.calibration import DEFAULT_PATH, Calibration, shipped_path
from mllm_server.chie.encoder import ENCODER_NAME
from mllm_server.chie.encoder_static import static_name


def _labelled(items: list[EmbeddedItem], encoder: str) -> list[EmbeddedItem]:
    return [
        EmbeddedItem(it.concepts, LevelEmbeddings(it.item_id, it.embeddings.vectors, encoder))
        for it in items
    ]


def test_each_shipped_calibration_names_its_encoder() -> None:
    minilm, static = Calibration.load(), Calibration.load(encoder=static_name())
    assert minilm.encoder == ENCODER_NAME
    assert static.encoder == static_name()
    assert shipped_path(static_name()).name == "calibration_static.json"
    assert shipped_path(ENCODER_NAME) == DEFAULT_PATH
    assert shipped_path("e5-base") == DEFAULT_PATH  # none fitted on it: the default
    assert static.model.to_json() != minilm.model.to_json()


def test_the_index_takes_the_calibration_of_its_vectors(tmp_path, fast_items) -> None:
    static = _labelled(fast_items, static_name())
    engine = IndexEngine(tmp_path)
    assert engine.calibration.encoder == ENCODER_NAME  # nothing held yet: the default
    engine.assign(static[:4])
    assert engine.calibration.encoder == static_name()
    assert engine.state.calibration is engine.calibration
    assert engine.rule.threshold == Calibration.load(encoder=static_name()).threshold
    engine.close()
    engine = IndexEngine(tmp_path)  # opened again: the encoder its store records
    assert engine.calibration.encoder == static_name()
    assert len(engine.assign(static[4:6])) == 2
    engine.close()


def test_a_calibration_given_is_kept_whatever_the_vectors(fast_items) -> None:
    engine = IndexEngine(None, IndexConfig(calibration=DEFAULT_PATH))
    engine.assign(_labelled(fast_items, static_name())[:3])
    assert engine.calibration.encoder == ENCODER_NAME
