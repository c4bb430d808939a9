"""Candidate search backends: the torch matrix-product backend answers like exact FAISS."""

from __future__ import annotations

import numpy as np
import pytest
from fitrep.domain import InvalidInput

from index_server.candidates.vector_index import create_index
from index_server.config import IndexConfig
from index_server.engine import IndexEngine


def _vectors(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_torch_backend_matches_exact_faiss(metric):
    data, queries = _vectors(3000, 24, 0), _vectors(200, 24, 1)
    faiss_index = create_index(24, metric, ivf_min_items=10**9)
    torch_index = create_index(24, metric, backend="torch", device="cpu")
    faiss_index.rebuild(data[:1000])
    torch_index.rebuild(data[:1000])
    # grown in uneven chunks: the buffer doubles behind the scenes
    for start, stop in ((1000, 1001), (1001, 2500), (2500, 3000)):
        faiss_index.add(data[start:stop])
        torch_index.add(data[start:stop])
    assert torch_index.ntotal == faiss_index.ntotal == 3000
    s_f, r_f = faiss_index.search(queries, 10)
    s_t, r_t = torch_index.search(queries, 10)
    np.testing.assert_allclose(s_t, s_f, atol=1e-4)
    assert (r_t == r_f).mean() > 0.99  # only float ties may swap
    assert torch_index.describe().startswith("TorchExact(cpu")


@pytest.mark.parametrize("ivf_min_items", [10**9, 500])
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_search_below_is_the_plain_search_of_earlier_rows(metric, ivf_min_items):
    """Flat and IVF: the nearest rows below a bound are those a wide plain search ranks
    first once the later rows are dropped."""
    data = _vectors(3000, 24, 0)
    index = create_index(24, metric, ivf_min_items=ivf_min_items, nprobe=4)
    index.rebuild(data[:2000])
    index.add(data[2000:])  # an add keeps the ids of every inverted list ascending
    queries = data[1500:1540]
    for below in (1, 700, 2999):
        scores, rows = index.search_below(queries, 20, below)
        _, wide = index.search(queries, 3000)
        want = [[r for r in row if 0 <= r < below][:20] for row in wide.tolist()]
        got = [[r for r in row if r >= 0] for row in rows.tolist()]
        assert got == want
    assert (index.search_below(queries, 5, 3000)[1] == index.search(queries, 5)[1]).all()


def test_torch_backend_round_trips_and_handles_small_indexes():
    index = create_index(8, "ip", backend="torch", device="cpu")
    scores, rows = index.search(_vectors(3, 8, 2), 5)
    assert rows.shape == (3, 0)
    data = _vectors(4, 8, 3)
    index.rebuild(data)
    scores, rows = index.search(data, 16)  # k above ntotal: clipped like FAISS
    assert rows.shape == (4, 4) and (rows[:, 0] == np.arange(4)).all()
    copy = create_index(8, "ip", backend="torch", device="cpu")
    copy.deserialize(index.serialize())
    assert (copy.search(data, 2)[1] == index.search(data, 2)[1]).all()


def test_unknown_backend_and_missing_gpu_are_named_errors():
    with pytest.raises(InvalidInput) as err:
        create_index(8, "ip", backend="annoy")
    assert err.value.field == "search_backend"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(InvalidInput) as err:
            create_index(8, "ip", backend="torch", device="cuda")
        assert err.value.field == "search_device"


def test_engine_on_the_torch_backend_makes_the_same_decisions(fast_items):
    # k=3 of 12 items: which candidates the search returns decides the clusters
    faiss_run = IndexEngine(config=IndexConfig(k=3)).build(fast_items)
    torch_cfg = IndexConfig(k=3, search_backend="torch", search_device="cpu")
    torch_run = IndexEngine(config=torch_cfg).build(fast_items)
    assert [a.cluster_id for a in torch_run] == [a.cluster_id for a in faiss_run]


def test_faiss_gpu_copy_answers_searches_when_faiss_gpu_sees_a_gpu(monkeypatch):
    """The [gpu] extra's path, with faiss-gpu's three entry points stood in for (this
    machine has faiss-cpu): the GPU copy gets every add and answers every search, while the
    CPU index stays the one serialised."""
    import faiss

    from index_server.candidates import vector_index

    copies = []

    class GpuCopy:
        def __init__(self, index):
            self.inner = faiss.clone_index(index)
            self.searches = 0
            copies.append(self)

        @property
        def ntotal(self):
            return self.inner.ntotal

        def add(self, x):
            self.inner.add(x)

        def search(self, q, k):
            self.searches += 1
            return self.inner.search(q, k)

    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: object(), raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(
        faiss, "index_cpu_to_gpu", lambda res, dev, idx: GpuCopy(idx), raising=False
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    index = vector_index.FaissIndex(8, "l2")
    index.rebuild(x[:150])
    index.add(x[150:])
    assert "gpu" in index.describe()
    _, rows = index.search(x[190:], 1)
    assert rows[:, 0].tolist() == list(range(190, 200))
    assert copies[-1].searches == 1 and copies[-1].ntotal == 200
    again = vector_index.FaissIndex(8, "l2")
    again.deserialize(index.serialize())  # the CPU index of record, mirrored again on load
    assert again.ntotal == 200 and copies[-1] is not copies[0]


def test_faiss_cpu_build_has_no_gpu_path():
    import faiss

    from index_server.candidates.vector_index import FaissIndex, faiss_gpus

    if hasattr(faiss, "StandardGpuResources"):
        pytest.skip("a faiss-gpu build")
    assert faiss_gpus(faiss) == 0
    assert "gpu" not in FaissIndex(4).describe()
