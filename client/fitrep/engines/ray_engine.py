"""``fitrep dedup --engine ray``: CHIE on a Ray Data actor pool, the join in this process.

Concept extraction and per-level encoding are a pure function of each item, so they run as a
pool of ``ConceptEngine`` actors (a GPU per actor for the ``vllm`` backend, CPU for ``rules``).
The index build stays in the driver: FBC decides item i from the items before it (DESIGN.md
§11), so the embedded ``IndexEngine.build`` gets every item in input order and hands out the
same partition and cluster ids as the embedded engine.

Items travel to the actors and back as ``fitrep.v1`` protobuf bytes (``fitrep.wire``, the same
encoding the gRPC concept tier uses), each row tagged with its input position; the driver puts
results back by position, so the order in which Ray finishes blocks does not matter.
On a multi-node cluster every worker needs FITRep installed, and image paths must be readable
there (as for the gRPC concept server).
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import ray.data

from fitrep.defaults import (
    BATCH_SIZE,  # items per actor call, as the embedded Pipeline batches them
)
from fitrep.domain import Assignment, EmbeddedItem, FitrepError, InvalidInput, Item
from fitrep.pipeline import Checkpoint, Progress, reusable
from fitrep.v1 import common_pb2 as cpb
from fitrep.wire import embedded_from_pb, embedded_to_pb, item_from_pb, item_to_pb

if TYPE_CHECKING:
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine

# Passed to the workers so a remote cluster's actors use the driver's settings.
_FORWARDED_ENV = (
    "FITREP_ENCODER_CACHE",
    "FITREP_OCR_CACHE",
    "FITREP_CONCEPT_CACHE",
    "XDG_CACHE_HOME",
    "FITREP_ENCODER",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
)


class ConceptActor:
    """One ``ConceptEngine`` per actor (the model loads once); batches of protobuf rows."""

    def __init__(self, backend: str, backend_options: dict[str, Any]) -> None:
        from mllm_server.chie.engine import ConceptEngine

        self.engine = ConceptEngine.create(backend, **backend_options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        positions = batch["pos"]
        items = [
            item_from_pb(cpb.Item.FromString(raw), f"items[{pos}]")
            for pos, raw in zip(positions, batch["item"], strict=True)
        ]
        out = self.engine.process(items)
        encoded = np.empty(len(out), dtype=object)
        encoded[:] = [embedded_to_pb(e).SerializeToString() for e in out]
        return {"pos": positions, "embedded": encoded}


def _no_actor_restarts() -> dict[str, Any]:
    """``max_restarts=0`` for the pool's actors, where ``map_batches`` still takes it.

    Ray Data passes an actor's arguments through the object store, where a restarted actor
    may not find them (ray#53727), and says so on every run with an error-level core_worker
    line when restarts are on. A lost actor fails the run with its error instead. Ray 2.60
    has no named parameter for it and deprecates the ``**kwargs`` it goes through; a Ray
    that no longer takes it gets Ray's default.
    """
    params = inspect.signature(ray.data.Dataset.map_batches).parameters.values()
    takes = any(p.kind is p.VAR_KEYWORD or p.name == "max_restarts" for p in params)
    return {"max_restarts": 0} if takes else {}


def _user_error(exc: BaseException) -> FitrepError | None:
    """The FitrepError an actor raised, found in the chain Ray wraps it in."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, FitrepError):
            return cur
        seen.add(id(cur))
        cur = getattr(cur, "cause", None) or cur.__cause__ or cur.__context__
    return None


class RayEngine:
    """CHIE as a Ray Data actor pool, then ``IndexEngine.build`` over the items in input order."""

    def __init__(
        self,
        index: IndexEngine,
        backend: str = "rules",
        *,
        actors: int = 1,
        actor_cpus: float = 1.0,
        actor_gpus: float = 0.0,
        backend_options: dict[str, Any] | None = None,
        owns_ray: bool = False,
    ) -> None:
        if actors < 1:
            raise InvalidInput("--actors", f"must be at least 1, got {actors}")
        if actor_cpus < 0 or actor_gpus < 0:
            raise InvalidInput("--actor-cpus", "resources per actor cannot be negative")
        self.index = index
        self.backend = backend
        self.actors = actors
        self.actor_cpus = actor_cpus
        self.actor_gpus = actor_gpus
        self.backend_options = dict(backend_options or {})
        self._owns_ray = owns_ray

    @classmethod
    def create(
        cls,
        data_dir: Path | None = None,
        backend: str = "rules",
        config: IndexConfig | None = None,
        *,
        address: str | None = None,
        actors: int | None = None,
        actor_cpus: float | None = None,
        num_cpus: int | None = None,
        **backend_options: Any,
    ) -> RayEngine:
        """Connect to ``address`` (e.g. ``ray://head:10001`` or ``auto``), or start a local Ray
        with ``num_cpus`` (default: this machine's cores) when none is given.

        Defaults: ``vllm`` gets one actor per GPU in the cluster, one GPU each; ``rules`` gets
        one CPU per actor and one actor per CPU but one: the CPU left over runs the driver (which
        decodes results and then joins) and Ray Data's own tasks; a pool that holds every CPU
        beside a read task is backpressured forever.
        """
        from index_server.engine import IndexEngine

        owns_ray = not ray.is_initialized()
        if owns_ray:
            env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
            init_args: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "runtime_env": {"env_vars": env} if env else None,
            }
            if address:
                ray.init(address=address, **init_args)
            else:
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **init_args)
        resources = ray.cluster_resources()
        gpu = backend == "vllm"
        if actor_cpus is None:
            actor_cpus = 1.0
        if actors is None:
            spare = resources.get("CPU", 1.0) - 1.0
            by_cpu = int(spare // actor_cpus) if actor_cpus > 0 else 1
            actors = max(1, int(resources.get("GPU", 1)) if gpu else by_cpu)
        return cls(
            IndexEngine(data_dir, config),
            backend,
            actors=actors,
            actor_cpus=actor_cpus,
            actor_gpus=1.0 if gpu else 0.0,
            backend_options=backend_options,
            owns_ray=owns_ray,
        )

    def embed(self, items: Sequence[Item], progress: Progress | None = None) -> list[EmbeddedItem]:
        """Every item through the actor pool; the result is in input order."""
        if not items:
            return []
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        rows = [
            {"pos": i, "item": item_to_pb(it).SerializeToString()} for i, it in enumerate(items)
        ]
        blocks = -(-len(rows) // BATCH_SIZE)  # one actor call per block
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`ray_remote_args` is deprecated", DeprecationWarning)
            ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
                ConceptActor,
                fn_constructor_kwargs={
                    "backend": self.backend,
                    "backend_options": self.backend_options,
                },
                batch_size=BATCH_SIZE,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=self.actors),
                num_cpus=self.actor_cpus,
                num_gpus=self.actor_gpus,
                **_no_actor_restarts(),
            )
        placed: list[bytes | None] = [None] * len(items)
        done = 0
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for pos, raw in zip(batch["pos"], batch["embedded"], strict=True):
                    placed[int(pos)] = raw
                done += len(batch["pos"])
                if progress:
                    progress("concepts", done, len(items))
        except Exception as exc:
            user = _user_error(exc)
            if user is not None:
                raise user from None
            raise
        missing = [i for i, raw in enumerate(placed) if raw is None]
        if missing:
            raise RuntimeError(f"ray engine lost {len(missing)} items (first at {missing[0]})")
        return [
            embedded_from_pb(cpb.EmbeddedItem.FromString(raw), f"items[{i}]", require_vectors=False)
            for i, raw in enumerate(placed)
            if raw is not None
        ]

    def dedup(
        self,
        items: Sequence[Item],
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> list[Assignment]:
        """Batch: concepts in parallel, then the sequential join over all items in input order.

        ``checkpoint``: the pool embeds only the items after those already checkpointed, and
        its output is checkpointed in one piece (the pool finishes blocks in any order).
        """
        done = reusable(checkpoint, items)
        rest = items[len(done) :]

        def shifted(stage: str, n: int, total: int) -> None:
            if progress:
                progress(stage, len(done) + n, len(done) + total)

        embedded = self.embed(rest, shifted)
        if checkpoint is not None and embedded:
            checkpoint.save(len(done), embedded)
        return self.index.build([*done, *embedded], progress)

    def close(self) -> None:
        self.index.close()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
