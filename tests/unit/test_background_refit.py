"""A server's SPDR refit runs beside the service (``IndexConfig.refit_in_background``):
calls go on being answered by the current index, the new one is installed with the rows
appended meanwhile, saved for its version, and a refit that fails is done in place."""

from __future__ import annotations

import threading

import pytest

from index_server.candidates.generator import CandidateGenerator
from index_server.config import IndexConfig
from index_server.engine import IndexEngine
from tests.unit.test_bounds import synthetic_items

CONFIG = dict(spdr_min_items=64, refit_growth=2.0, spdr_method="pca", spdr_components=8)


def _all_rows_findable(engine: IndexEngine) -> None:
    generator = engine.candidates
    assert generator.cindex is not None and generator.cindex.ntotal == engine.n
    found = generator.search(generator.weighted(list(range(engine.n))), 1)[:, 0]
    assert (found >= 0).all()


def _hold_refits(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """(started, release): a background refit signals ``started`` and waits for ``release``."""
    started, release = threading.Event(), threading.Event()
    fit = CandidateGenerator.fitted_index

    def held(self, n):
        started.set()
        assert release.wait(60)
        return fit(self, n)

    monkeypatch.setattr(CandidateGenerator, "fitted_index", held)
    return started, release


def test_the_index_answers_while_it_is_refitted(tmp_path, monkeypatch):
    started, release = _hold_refits(monkeypatch)
    engine = IndexEngine(tmp_path, IndexConfig(refit_in_background=True, **CONFIG))
    items = synthetic_items(220)
    engine.assign(items[:64])  # the first fit, at once: there is no index to answer with
    assert engine.candidates.index_version == 1
    engine.assign(items[64:128])  # grown 2x: the refit starts beside the service
    assert started.wait(10)
    answered = engine.assign(items[128:160])  # answered while the refit is held
    assert len(answered) == 32 and engine.candidates.index_version == 1
    _all_rows_findable(engine)  # the current index took the new rows
    release.set()
    engine.candidates.wait_refit()
    engine.assign(items[160:170])  # the next call installs it, with rows 128..169
    generator = engine.candidates
    assert generator.index_version == 2 and generator.fit_size == 128
    _all_rows_findable(engine)
    assert (tmp_path / "reducer-v2.pkl").exists()
    engine.close()
    reopened = IndexEngine(tmp_path, IndexConfig(refit_in_background=True, **CONFIG))
    assert reopened.candidates.index_version == 2 and reopened.n == 170
    _all_rows_findable(reopened)
    reopened.close()


def test_a_failed_background_refit_is_done_in_place(tmp_path, monkeypatch, caplog):
    def broken(self, n):
        raise MemoryError("no room for the new index")

    monkeypatch.setattr(CandidateGenerator, "fitted_index", broken)
    engine = IndexEngine(None, IndexConfig(refit_in_background=True, **CONFIG))
    items = synthetic_items(160)
    engine.assign(items[:64])
    engine.assign(items[64:128])
    engine.candidates.wait_refit()
    with caplog.at_level("WARNING", logger="fitrep.index"):
        engine.assign(items[128:140])
    assert "background_refit_failed" in caplog.text and "no room" in caplog.text
    assert engine.candidates.index_version == 2 and engine.candidates.fit_size == 140
    _all_rows_findable(engine)
    engine.close()


@pytest.mark.parametrize("background", [False, True])
def test_without_it_the_refit_stops_the_call(background):
    """In process (a build, the SDK) the refit happens in the call that grew the index."""
    engine = IndexEngine(None, IndexConfig(refit_in_background=background, **CONFIG))
    items = synthetic_items(130)
    engine.assign(items[:64])
    engine.assign(items[64:128])
    assert engine.candidates.index_version == (1 if background else 2)
    engine.close()


def test_the_index_server_refits_beside_the_service():
    from index_server.transport.config import config_from_args

    assert config_from_args([]).index.refit_in_background
    assert not config_from_args(["--no-refit-in-background"]).index.refit_in_background
    assert not IndexConfig().refit_in_background


def test_a_failed_write_lets_the_refit_finish_before_the_rows_are_cut(tmp_path, monkeypatch):
    """The refit may be reading the failed batch's rows, which reopening the vector file
    cuts off (a read there would crash the process): the reload waits for it."""
    from index_server import state_store
    from index_server.state import IndexState

    started, release = _hold_refits(monkeypatch)
    engine = IndexEngine(tmp_path, IndexConfig(refit_in_background=True, **CONFIG))
    items = synthetic_items(140)
    engine.assign(items[:64])
    done_at_close: list[bool] = []
    close_vectors = IndexState.close_vectors

    def close(self):
        pending = self.candidates._pending
        done_at_close.append(pending is None or pending.done())
        close_vectors(self)

    def failing(*args, **kwargs):
        raise OSError(5, "Input/output error")

    commit = state_store.commit_batch
    monkeypatch.setattr(IndexState, "close_vectors", close)
    monkeypatch.setattr(state_store, "commit_batch", failing)
    threading.Timer(0.5, release.set).start()
    with pytest.raises(OSError, match="Input/output"):
        engine.assign(items[64:128])  # grows 2x: the refit starts, then the commit fails
    assert started.is_set() and done_at_close == [True]
    monkeypatch.setattr(state_store, "commit_batch", commit)
    assert engine.n == 64
    engine.assign(items[64:128])
    _all_rows_findable(engine)
    engine.close()
