"""The vllm backend in-process on a real engine (tiny random-weight Qwen2-VL on CPU)."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
from fitrep.domain import InvalidInput, Level, Overloaded

from mllm_server.chie.concept_schema import DEFAULT_PROMPT
from mllm_server.chie.vllm_backend import VLLMExtractor
from tests.vllm.conftest import ENGINE_OPTIONS, MAX_QUEUE, image_items, too_long_item


def _report(line: str) -> None:
    """Measured figures go to $FITREP_VLLM_REPORT (scripts/test_vllm.sh prints them)."""
    path = os.environ.get("FITREP_VLLM_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def _wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.002)
    return False


@pytest.mark.parametrize("kind", ["missing", "file", "no_config"])
def test_model_path_must_be_a_local_model_dir(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "model"
    if kind == "file":
        target.write_text("not a model")
    elif kind == "no_config":
        target.mkdir()
    with pytest.raises(InvalidInput) as err:
        VLLMExtractor(target)
    assert err.value.field == "model"


def test_images_in_schema_valid_json_out(extractor: VLLMExtractor) -> None:
    items = image_items("json", 4)
    prompt = extractor._engine_prompt(items[0])
    assert "<|image_pad|>" in prompt["prompt"]  # the model's chat template placed the image
    assert prompt["multi_modal_data"]["image"].size == (160, 120)

    extractor.answers(items[:1])  # first call pays for the image-processor warm-up
    start = time.perf_counter()
    answers = extractor.answers(items)
    elapsed = time.perf_counter() - start
    _report(f"in-process: 4 concurrent image requests in {elapsed:.2f} s")
    assert len(answers) == 4
    for answer in answers:
        jsonschema.validate(json.loads(answer), extractor.schema)


def test_concurrent_calls_share_the_engine(extractor: VLLMExtractor) -> None:
    calls = [image_items(f"par{c}-", 1) for c in range(4)]
    start = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda b: extractor.answers(b, timeout=120), calls))
    _report(
        f"in-process: 4 concurrent calls of 1 image each in {time.perf_counter() - start:.2f} s"
    )
    assert [len(r) for r in results] == [1, 1, 1, 1]


def test_extract_gives_vllm_concepts_with_pixels(extractor: VLLMExtractor) -> None:
    items = image_items("ext", 2)
    before = extractor.stats()
    concepts = extractor.extract(items)
    assert [c.item_id for c in concepts] == ["ext0", "ext1"]
    for cs in concepts:
        assert cs.backend == "vllm"
        assert cs.version == f"{extractor.model_name}+{DEFAULT_PROMPT}"
        assert cs.levels[Level.PRIMARY]
        assert Level.VISUAL in cs.levels and "phash" in cs.image_features
        assert cs.anchors.brand  # the item names its brand: said by the model or the rules
    after = extractor.stats()
    assert after["model_requests"] - before["model_requests"] == 2
    assert after["fallbacks"] == before["fallbacks"]


def test_repeat_is_a_cache_hit(extractor: VLLMExtractor) -> None:
    first = extractor.extract(image_items("rep", 3))
    before = extractor.stats()
    # Same content under other ids: answered from the cache, the model is not asked.
    again = image_items("rep", 3)
    for item in again:
        item.id = "copy-" + item.id
    second = extractor.extract(again)
    after = extractor.stats()
    assert after["cache_hits"] - before["cache_hits"] == 3
    assert after["model_requests"] == before["model_requests"]
    assert [c.item_id for c in second] == [i.id for i in again]
    assert [c.levels for c in second] == [c.levels for c in first]


def test_unusable_answer_falls_back_per_item(extractor: VLLMExtractor) -> None:
    good, bad = image_items("fb", 1)[0], too_long_item("fb-long")
    before = extractor.stats()
    concepts = extractor.extract([good, bad, image_items("fb2-", 1)[0]])
    assert [c.backend for c in concepts] == ["vllm", "rules", "vllm"]
    assert extractor.stats()["fallbacks"] - before["fallbacks"] == 1


def test_full_queue_raises_overloaded(extractor: VLLMExtractor) -> None:
    before = extractor.stats()
    with pytest.raises(Overloaded):
        extractor.extract(image_items("big", MAX_QUEUE + 1))
    assert extractor.stats()["rejected"] - before["rejected"] == MAX_QUEUE + 1

    # While a full batch is in flight, one more item is refused at once. The batch is fast
    # on this model, so the extra call may land after it: try a few times.
    refused = False
    for attempt in range(10):
        batch = image_items(f"busy{attempt}-", MAX_QUEUE)
        worker = threading.Thread(target=extractor.answers, args=(batch,))
        worker.start()
        try:
            if _wait_for(lambda: extractor.stats()["in_flight"] == MAX_QUEUE, 5.0):
                extractor.answers(image_items(f"extra{attempt}-", 1))
        except Overloaded:
            refused = True
        finally:
            worker.join()
        if refused:
            break
    assert refused, "never saw Overloaded while the queue was full"
    assert extractor.stats()["in_flight"] == 0


def test_timeout_aborts_engine_requests(extractor: VLLMExtractor) -> None:
    before = extractor.stats()
    with pytest.raises(TimeoutError):
        extractor.answers(image_items("slow", 3), timeout=0.01)
    assert extractor.stats()["timeouts"] - before["timeouts"] == 1
    assert _wait_for(lambda: extractor.stats()["engine_unfinished"] == 0, 10.0)
    assert extractor.stats()["in_flight"] == 0
    # The engine still serves after the abort.
    assert extractor.extract(image_items("after", 1))[0].backend == "vllm"


def test_truncated_answer_falls_back_and_close_is_clean(tiny_model: Path) -> None:
    """Own engine with max_tokens too small for the JSON: every answer is cut, every item
    falls back; then close() must leave no engine process and no loop thread behind."""
    others = {p.pid for p in psutil.Process().children(recursive=True)}  # the shared engine
    ex = VLLMExtractor(tiny_model, max_tokens=6, max_queue=MAX_QUEUE, **ENGINE_OPTIONS)  # type: ignore[arg-type]
    children = [p for p in psutil.Process().children(recursive=True) if p.pid not in others]
    assert children, "the engine runs in processes of its own"
    try:
        concepts = ex.extract(image_items("cut", 2))
        assert [c.backend for c in concepts] == ["rules", "rules"]
        assert ex.stats()["fallbacks"] == 2
        assert ex.stats()["items"] == 2
    finally:
        ex.close()
    assert not ex._thread.is_alive()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"engine processes left after close(): {alive}"
    with pytest.raises(ConnectionError):  # UNAVAILABLE on the wire
        ex.answers(image_items("closed", 1))
    ex.close()  # idempotent
