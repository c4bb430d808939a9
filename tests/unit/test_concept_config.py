import pytest

from mllm_server.config import config_from_args


def test_backend_shorthand_flags_become_backend_options():
    cfg = config_from_args(
        [
            "--backend",
            "vllm",
            "--model",
            "/models/qwen",
            "--max-queue",
            "8",
            "--enforce-eager",
            "--concept-cache",
            "/tmp/c.sqlite",
        ]
    )
    assert cfg.backend_options == {
        "model": "/models/qwen",
        "max_queue": 8,
        "enforce_eager": True,
        "cache_path": "/tmp/c.sqlite",
    }


def test_explicit_backend_option_wins_over_shorthand():
    cfg = config_from_args(["--dtype", "bfloat16", "--backend-option", "dtype=float16"])
    assert cfg.backend_options == {"dtype": "float16"}


def test_ocr_flag_is_a_rules_backend_option():
    assert config_from_args(["--ocr", "off"]).backend_options == {"ocr": "off"}
    assert config_from_args([]).backend_options == {}


def test_encoder_runtime_flag_is_checked_and_not_a_backend_option():
    assert config_from_args([]).encoder_runtime is None
    cfg = config_from_args(["--encoder-runtime", "torch"])
    assert cfg.encoder_runtime == "torch" and cfg.backend_options == {}
    with pytest.raises(SystemExit):
        config_from_args(["--encoder-runtime", "tensorrt"])
