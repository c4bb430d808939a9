"""The static encoder (distilled token table shipped as package data) and ``--encoder``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fitrep.cli import app
from fitrep.domain import ConceptSet, Level
from typer.testing import CliRunner

from mllm_server.chie.encoder import (
    ENCODER_NAME,
    LevelEncoder,
    auto_encoder,
    requested_encoder,
)
from mllm_server.chie.encoder_static import StaticEmbedder, mean_pool
from mllm_server.config import config_from_args

TEXTS = ["Sony Bravia 55 inch 4K TV", "organic whole milk 1 gal", "zzqx", "Sony Bravia 55 inch"]


def test_static_vectors_are_unit_length_with_the_manifest_dim():
    embed = StaticEmbedder()
    v = embed(TEXTS)
    assert v.shape == (4, embed.dim) and v.dtype == np.float32 and embed.dim < 384
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # related strings are closer than unrelated ones
    assert v[0] @ v[3] > v[0] @ v[1]


def test_static_vectors_are_deterministic_and_do_not_depend_on_the_batch():
    one = StaticEmbedder()(TEXTS)
    again = StaticEmbedder()(list(reversed(TEXTS)))[::-1]
    alone = np.stack([StaticEmbedder()([t])[0] for t in TEXTS])
    assert np.array_equal(one, again) and np.array_equal(one, alone)


def test_mean_pool_gives_zeros_for_a_string_without_tokens():
    table = np.array([[3.0, 4.0], [0.0, 2.0]], np.float32)
    out = mean_pool([[0, 1], [], [1]], table)
    mean = np.array([1.5, 3.0])  # of rows 0 and 1
    assert np.allclose(out, [mean / np.linalg.norm(mean), [0, 0], [0, 1]])


def test_cache_key_and_vector_label_name_the_encoder(tmp_path):
    path = tmp_path / "cache.sqlite"
    static = LevelEncoder(encoder="static", disk_cache=path)
    minilm = LevelEncoder(encoder="minilm", runtime="torch", disk_cache=path)
    assert static.name != minilm.name == ENCODER_NAME
    assert static._disk_key("milk") != minilm._disk_key("milk")
    sets = [ConceptSet("a", {Level.PRIMARY: ["organic", "milk"]})]
    (out,) = static.encode(sets)
    assert out.encoder == static.name and out.vectors[Level.PRIMARY].shape == (static.dim,)
    # a MiniLM-named encoder on the same file finds nothing of the static one's
    calls: list[list[str]] = []

    def spy(texts):
        calls.append(list(texts))
        return np.ones((len(texts), static.dim), np.float32) / np.sqrt(static.dim)

    LevelEncoder(embed=spy, name=ENCODER_NAME, dim=static.dim, disk_cache=path).encode(sets)
    assert calls == [[sets[0].text_of(Level.PRIMARY)]]


def test_encoder_choice_is_checked(monkeypatch):
    monkeypatch.delenv("FITREP_ENCODER", raising=False)
    assert requested_encoder(None) == "minilm"
    monkeypatch.setenv("FITREP_ENCODER", "Static")
    assert requested_encoder(None) == "static"
    with pytest.raises(ValueError, match="expected one of minilm, static"):
        requested_encoder("bert")
    assert config_from_args(["--encoder", "static"]).encoder == "static"
    with pytest.raises(SystemExit):
        config_from_args(["--encoder", "bert"])


def test_auto_picks_by_catalogue_size_and_cores(monkeypatch):
    """MiniLM while its concept stage fits a few minutes (25,000 items per core), the static
    model beyond; auto is for callers that know the size."""
    monkeypatch.delenv("FITREP_ENCODER", raising=False)
    assert auto_encoder(50_000, cores=2) == "minilm"
    assert auto_encoder(50_001, cores=2) == "static"
    assert auto_encoder(200_000, cores=8) == "minilm"
    assert requested_encoder(None, items=100_000) == auto_encoder(100_000)
    assert requested_encoder("minilm", items=10**7) == "minilm"
    monkeypatch.setenv("FITREP_ENCODER", "auto")
    assert requested_encoder(None, items=10) == "minilm"
    with pytest.raises(ValueError, match="catalogue size"):
        requested_encoder(None)  # a server has no catalogue to size


def test_dedup_encoder_flag_is_one_clear_line_and_static_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FITREP_ENCODER_CACHE", "")
    cat = tmp_path / "cat.jsonl"
    rows = [
        {"id": "a", "title": "Canon PIXMA MX700 all-in-one printer"},
        {"id": "b", "title": "canon pixma mx700 printer"},
        {"id": "c", "title": "Epson T0441 black ink cartridge"},
    ]
    cat.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["dedup", str(cat), "--out", str(tmp_path / "run"), "--no-progress"]
    bad = CliRunner().invoke(app, [*args, "--encoder", "bert"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "--encoder" in bad.output and "minilm, static" in bad.output
    ok = CliRunner().invoke(app, [*args, "--encoder", "static"])
    assert ok.exit_code == 0, ok.output
    assert "auto for" not in ok.output  # named, so nothing to explain
    auto = CliRunner().invoke(app, [*args[:3], str(tmp_path / "auto"), "--no-progress"])
    assert auto.exit_code == 0, auto.output
    assert "encoder: minilm (auto for 3 items" in auto.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["items"] == 3 and summary["encoder"] == "static"
