"""CHIE in worker processes: the same concepts and vectors as one process, in order."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fitrep.pipeline import MIN_POOLED_BATCHES, Pipeline

from index_server.engine import IndexEngine
from mllm_server.chie.encoder import LevelEncoder
from mllm_server.chie.engine import ConceptEngine
from mllm_server.chie.rules import RulesExtractor
from tests.conftest import hash_embed


def _pipeline(workers: int) -> Pipeline:
    concepts = ConceptEngine(RulesExtractor(ocr="off"), LevelEncoder(embed=hash_embed))
    return Pipeline(
        concepts, IndexEngine(), batch_size=4, workers=workers, backend=("rules", {"ocr": "off"})
    )


def test_worker_processes_give_the_sequential_concepts_vectors_and_clusters(catalogue):
    items = catalogue * 3  # MIN_POOLED_BATCHES batches at least, with repeats across them
    assert len(items) >= 4 * MIN_POOLED_BATCHES
    alone, pooled = _pipeline(1), _pipeline(2)
    want, seen = alone.embed(items), []
    got = pooled.embed(items, lambda stage, done, total: seen.append((stage, done, total)))
    assert [e.concepts for e in got] == [e.concepts for e in want]
    for a, b in zip(got, want, strict=True):
        assert a.embeddings.vectors.keys() == b.embeddings.vectors.keys()
        for level, vector in a.embeddings.vectors.items():
            np.testing.assert_array_equal(vector, b.embeddings.vectors[level])
    assert pooled.worker_cpu_seconds > 0  # the extraction ran in the workers
    assert seen[-1] == ("concepts", len(items), len(items))
    done = [d for stage, d, _ in seen if stage == "concepts"]
    assert done == sorted(done)
    ids = [a.cluster_id for a in pooled.index.build(got)]
    assert ids == [a.cluster_id for a in alone.index.build(want)]


def test_one_batch_stays_in_this_process(catalogue):
    pooled = _pipeline(2)
    pooled.embed(catalogue[:3])
    assert pooled.worker_cpu_seconds == 0.0


def test_stage_clock_reports_wall_cpu_and_utilisation_per_stage():
    from fitrep.stage_clock import StageClock

    seen: list[tuple[str, int, int]] = []
    clock = StageClock(lambda *a: seen.append(a), cores=2)
    clock("concepts", 0, 10)
    deadline = time.perf_counter() + 0.2
    while time.perf_counter() < deadline:  # busy: one core of two
        pass
    clock("concepts", 10, 10)
    clock("cluster", 0, 10)
    stages = clock.summary({"concepts": 0.2})
    assert seen[0] == ("concepts", 0, 10)
    concepts = stages["concepts"]
    assert 0.19 <= concepts["seconds"] < 1.0
    assert concepts["cpu_seconds"] > 0.2  # its own CPU plus the workers'
    share = concepts["cpu_seconds"] / (concepts["seconds"] * 2)
    assert concepts["cpu_utilisation"] == pytest.approx(share, abs=0.02)
    assert stages["cluster"]["seconds"] == 0.0


def test_a_servers_engine_with_a_pool_answers_as_without(catalogue):
    from fitrep.domain import InvalidInput, Item

    from mllm_server.chie.extract_pool import ExtractPool

    alone = ConceptEngine(RulesExtractor(ocr="off"), LevelEncoder(embed=hash_embed))
    pooled = ConceptEngine(RulesExtractor(ocr="off"), LevelEncoder(embed=hash_embed))
    pooled.pool = ExtractPool("rules", {"ocr": "off"}, 2)
    try:
        pooled.pool.warm_up()
        assert [e.concepts for e in pooled.process(catalogue)] == [
            e.concepts for e in alone.process(catalogue)
        ]
        with pytest.raises(InvalidInput) as err:
            pooled.process([Item("", "no id")])
        assert err.value.field == "items[0].id"
    finally:
        pooled.close()


def test_errors_cross_process_boundaries_whole():
    import pickle

    from fitrep.domain import AlreadyExists, InvalidInput, NotFound

    for error in (InvalidInput("items[2].title", "empty"), NotFound("item", "x"),
                  AlreadyExists("items[0]", "stored with other content")):  # fmt: skip
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error) and str(back) == str(error)
        assert back.__dict__ == error.__dict__


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """A SIGKILLed dedup leaves no extraction workers behind."""
    import os
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from mllm_server.chie.extract_pool import ExtractPool\n"
        "pool = ExtractPool('rules', {'ocr': 'off'}, 2)\n"
        "pool.warm_up()\n"
        "print(*[p.pid for p in pool._pool._processes.values()], flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    workers = [int(pid) for pid in run.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 15
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in workers if os.path.exists(f"/proc/{pid}")]
        alive = [pid for pid in alive if "Z" not in open(f"/proc/{pid}/stat").read().split()[2]]
    assert not alive, f"workers {alive} outlived their parent"
