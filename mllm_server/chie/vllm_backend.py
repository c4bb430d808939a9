"""The ``vllm`` CHIE backend: a vision-language model served in-process by vLLM's AsyncLLM.

Why this shape:
- One AsyncLLM lives on an asyncio loop in a background thread. ``extract`` is synchronous
  (the gRPC servicer calls it from its thread pool) and submits its items to that loop, so
  concurrent calls share the engine and vLLM batches them continuously.
- Admission is bounded (``max_queue`` items in flight across all calls): beyond it a call is
  refused at once with ``Overloaded`` instead of queueing unboundedly.
- A timeout cancels the batch's requests in the engine (cancelling ``generate`` makes
  AsyncLLM abort them), so an abandoned call stops using the accelerator.
- Answers are decoded against a bounded JSON schema with the ``guidance`` structured-output
  backend (xgrammar was measured to emit invalid JSON for strings with maxLength). An answer
  that still fails to parse falls back, per item, to the ``rules`` backend and is counted.
- vLLM is imported lazily so the CPU project never needs it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path
from typing import Any

from fitrep.domain import ConceptSet, InvalidInput, Item, Level, Overloaded

from mllm_server.chie import image_features
from mllm_server.chie.concept_cache import ConceptCache
from mllm_server.chie.concept_schema import (
    DEFAULT_PROMPT,
    AnswerError,
    PromptTemplate,
    SchemaLimits,
    answer_schema,
    parse_answer,
)
from mllm_server.chie.rules import RulesExtractor

log = logging.getLogger(__name__)

_WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt", "*.gguf")


def check_model_dir(model: str | Path) -> Path:
    """The local model directory, or InvalidInput saying why it is not one (never downloads)."""
    path = Path(model).expanduser()
    if not str(model):
        raise InvalidInput("model", "a local model directory is required (--model PATH)")
    if not path.exists():
        raise InvalidInput("model", f"{path} does not exist (models are never downloaded)")
    if not path.is_dir():
        raise InvalidInput("model", f"{path} is not a directory")
    if not (path / "config.json").is_file():
        raise InvalidInput("model", f"{path} has no config.json: not a Hugging Face model dir")
    if not any(next(path.glob(pattern), None) for pattern in _WEIGHT_FILES):
        raise InvalidInput("model", f"{path} holds no weight files ({', '.join(_WEIGHT_FILES)})")
    return path.resolve()


class VLLMExtractor:
    """Concept extraction with a local vision-language model (see module docstring).

    Engine options mirror vLLM's: ``dtype``, ``max_model_len``, ``gpu_memory_utilization``,
    ``tensor_parallel_size``, ``max_num_seqs``, ``enforce_eager``. ``max_queue`` bounds the
    items in flight; ``cache_path`` adds a SQLite file behind the in-memory concept cache.
    ``max_items`` / ``max_chars`` bound the answer schema; ``max_tokens`` defaults to what
    that bound needs (a smaller value is how tests force unparseable answers).
    """

    name = "vllm"
    # Safe to call from many threads at once, and it wants to be: concurrent calls are what
    # continuous batching batches. The servicer need not serialise calls to this backend.
    concurrent = True

    def __init__(
        self,
        model: str | Path = "",
        *,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        max_num_seqs: int | None = None,
        enforce_eager: bool = False,
        max_queue: int = 256,
        prompt_version: str = DEFAULT_PROMPT,
        max_items: int = 6,
        max_chars: int = 40,
        max_tokens: int | None = None,
        cache_size: int = 100_000,
        cache_path: str | Path | None = None,
        seed: int = 0,
        startup_timeout: float = 600.0,
        engine_options: dict[str, Any] | None = None,
    ) -> None:
        self.model_path = check_model_dir(model)
        if max_queue < 1:
            raise InvalidInput("max_queue", "must be >= 1")
        self.prompt = PromptTemplate(prompt_version)
        self.limits = SchemaLimits(max_items=max_items, max_chars=max_chars)
        self.schema = answer_schema(self.limits)
        self.max_tokens = max_tokens or self.limits.token_budget()
        self.max_queue = max_queue
        self.model_name = self.model_path.name
        self.version = f"{self.model_name}+{self.prompt.version}"
        self.cache = ConceptCache(cache_size, cache_path)
        self._rules = RulesExtractor(ocr="off")  # the VLM reads the package text itself
        self._counters = dict.fromkeys(
            ("items", "cache_hits", "model_requests", "fallbacks", "rejected", "timeouts"), 0
        )
        self._lock = threading.Lock()
        self._in_flight = 0
        self._request_ids = itertools.count()
        self._closed = False

        engine_kwargs: dict[str, Any] = {
            "model": str(self.model_path),
            "tokenizer": str(self.model_path),
            "dtype": dtype,
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "max_num_seqs": max_num_seqs,
            "enforce_eager": enforce_eager,
            "limit_mm_per_prompt": {"image": 1},
            "seed": seed,
            # Compact JSON: free whitespace between tokens is where a weak model loops until
            # max_tokens (measured with the random-weight test model).
            "structured_outputs_config": {"backend": "guidance", "disable_any_whitespace": True},
            "disable_log_stats": True,
            **(engine_options or {}),
        }
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="vllm-loop", daemon=True
        )
        self._thread.start()
        try:
            started = asyncio.run_coroutine_threadsafe(self._start(engine_kwargs), self._loop)
            started.result(timeout=startup_timeout)
        except BaseException:
            self._stop_loop()
            raise
        log.info(
            "vllm backend ready model=%s prompt=%s max_tokens=%d max_queue=%d",
            self.model_path,
            self.prompt.version,
            self.max_tokens,
            self.max_queue,
        )

    async def _start(self, engine_kwargs: dict[str, Any]) -> None:
        """Build the engine on the loop thread (AsyncLLM binds its tasks to this loop)."""
        # Never reach the hub; keep engine workers out of fork() in a threaded gRPC process.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("VLLM_WORKER_MULTIPROC_METHOD", "spawn")
        from transformers import AutoTokenizer
        from vllm import AsyncEngineArgs, SamplingParams
        from vllm.exceptions import VLLMClientError
        from vllm.sampling_params import StructuredOutputsParams
        from vllm.v1.engine.async_llm import AsyncLLM
        from vllm.v1.engine.exceptions import EngineDeadError

        self._client_error = VLLMClientError
        self._engine_dead = EngineDeadError
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path), local_files_only=True)
        self._sampling = SamplingParams(
            temperature=0.0,
            max_tokens=self.max_tokens,
            structured_outputs=StructuredOutputsParams(json=self.schema),
        )
        self._engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_kwargs))

    # -- public API ---------------------------------------------------------------------

    def extract(self, items: Sequence[Item], timeout: float | None = None) -> list[ConceptSet]:
        """One ConceptSet per item, same order; cache hits skip the model.

        Raises Overloaded when the items would exceed ``max_queue`` in flight, TimeoutError
        (after aborting the engine requests) when ``timeout`` seconds pass, ConnectionError
        when the backend is closed or the engine died (UNAVAILABLE: retry elsewhere).
        """
        results: list[ConceptSet | None] = []
        misses: list[int] = []
        for i, item in enumerate(items):
            cached = self.cache.get(item, self.model_name, self.prompt.version)
            if cached is None:
                misses.append(i)
            results.append(None if cached is None else self._complete(item, cached))
        with self._lock:
            self._counters["items"] += len(items)
            self._counters["cache_hits"] += len(items) - len(misses)
        if misses:
            answers = self._generate([items[i] for i in misses], timeout)
            for i, answer in zip(misses, answers, strict=True):
                results[i] = self._to_concepts(items[i], answer)
        return [r for r in results if r is not None]

    def answers(self, items: Sequence[Item], timeout: float | None = None) -> list[str]:
        """The raw JSON answers of the model, bypassing the cache: for debugging and tests."""
        return self._generate(items, timeout)

    def stats(self) -> dict[str, float]:
        """Counters for GetInfo.stats: items, cache_hits, model_requests, fallbacks,
        rejected, timeouts; gauges in_flight and engine_unfinished."""
        with self._lock:
            stats = {key: float(value) for key, value in self._counters.items()}
            stats["in_flight"] = float(self._in_flight)
        engine = getattr(self, "_engine", None)
        if engine is not None:
            # Requests the engine still tracks: stays 0 after a timeout if aborts work.
            stats["engine_unfinished"] = float(engine.get_num_unfinished_requests())
        return stats

    def close(self) -> None:
        """Abort what runs, shut the engine down (its worker processes too), stop the loop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        engine = getattr(self, "_engine", None)
        if engine is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(60)
            except Exception:  # shutdown is best effort; the loop still stops below
                log.exception("vllm engine shutdown failed")
        self._stop_loop()
        self.cache.close()

    # -- internals ------------------------------------------------------------------------

    def _generate(self, items: Sequence[Item], timeout: float | None) -> list[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._closed:
                raise ConnectionError("vllm backend is closed")
            if self._in_flight + len(items) > self.max_queue:
                self._counters["rejected"] += len(items)
                raise Overloaded(
                    f"vllm queue full: {self._in_flight} items in flight, {len(items)} more"
                    f" requested, max_queue={self.max_queue}"
                )
            self._in_flight += len(items)
            self._counters["model_requests"] += len(items)
        try:
            prompts = [self._engine_prompt(item) for item in items]
            # Image decoding above counts against the caller's deadline too.
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            future: Future[list[str]] = asyncio.run_coroutine_threadsafe(
                self._run_batch(prompts, remaining), self._loop
            )
            try:
                # The coroutine enforces the deadline itself; the margin covers the abort.
                return future.result(None if timeout is None else timeout + 30.0)
            except FutureTimeout:
                future.cancel()
                raise TimeoutError(f"vllm batch of {len(items)} exceeded {timeout}s") from None
            except CancelledError:
                raise ConnectionError("vllm backend closed while the batch ran") from None
            except self._engine_dead as exc:
                # ConnectionError is UNAVAILABLE on the wire: callers retry elsewhere.
                raise ConnectionError(f"vllm engine is down: {exc}") from exc
        except TimeoutError:
            with self._lock:
                self._counters["timeouts"] += 1
            raise
        finally:
            with self._lock:
                self._in_flight -= len(items)

    async def _run_batch(self, prompts: list[dict[str, Any]], timeout: float | None) -> list[str]:
        tasks = [asyncio.ensure_future(self._one(p)) for p in prompts]
        try:
            return await asyncio.wait_for(asyncio.gather(*tasks), timeout)
        except (asyncio.TimeoutError, TimeoutError):  # distinct classes before Python 3.11
            # Cancelling the generate() iterators makes AsyncLLM abort the engine requests.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise TimeoutError(f"vllm batch exceeded {timeout}s; requests aborted") from None

    async def _one(self, prompt: dict[str, Any]) -> str:
        request_id = f"chie-{next(self._request_ids)}"
        text = ""
        try:
            async for output in self._engine.generate(prompt, self._sampling, request_id):
                text = output.outputs[0].text if output.outputs else ""
        except self._client_error as exc:
            # This item's request was refused (e.g. prompt longer than max_model_len): an
            # empty answer sends it to the rules fallback; the rest of the batch goes on.
            log.warning("vllm refused request_id=%s: %s", request_id, exc)
            return ""
        return text

    def _engine_prompt(self, item: Item) -> dict[str, Any]:
        """Chat-formatted prompt with the model's own template, image as multi-modal data."""
        image = image_features.load(item.image) if item.image is not None else None
        content: list[dict[str, str]] = []
        if image is not None:
            content.append({"type": "image"})
        content.append({"type": "text", "text": self.prompt.render(item)})
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        text = self._tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        prompt: dict[str, Any] = {"prompt": text}
        if image is not None:
            prompt["multi_modal_data"] = {"image": image.convert("RGB")}
        return prompt

    def _to_concepts(self, item: Item, answer: str) -> ConceptSet:
        try:
            concepts = parse_answer(answer, item.id, self.version, self.limits, self.name)
        except AnswerError as exc:
            with self._lock:
                self._counters["fallbacks"] += 1
            log.warning("vllm answer unusable item_id=%s reason=%s: rules fallback", item.id, exc)
            return self._rules.extract_one(item)
        self.cache.put(item, self.model_name, self.prompt.version, concepts)
        return self._complete(item, concepts)

    def _complete(self, item: Item, concepts: ConceptSet) -> ConceptSet:
        """Add what is cheap and deterministic, so it is not cached: the verifier's other
        anchors (code_any, tokens, numbers) from the text rules, and the pixel features."""
        rules = self._rules.extract_one(item)
        model = concepts.anchors
        concepts.anchors = rules.anchors.merged(model)
        # Variants: what the model read (the package, the picture) beside what the title
        # rules read; a kind the model did not name keeps the rules' values.
        said = {v.partition(":")[0] for v in model.variant}
        kept = [v for v in rules.anchors.variant if v.partition(":")[0] not in said]
        concepts.anchors = replace(concepts.anchors, variant=(*model.variant, *kept))
        concepts.image_features = rules.image_features
        if Level.VISUAL in rules.levels:
            concepts.levels[Level.VISUAL] = rules.levels[Level.VISUAL]
        return concepts

    async def _shutdown(self) -> None:
        for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
            task.cancel()
        self._engine.shutdown()
        # Drop the engine now: AsyncLLM.__del__ at interpreter exit would shut it down again.
        del self._engine

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> VLLMExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
