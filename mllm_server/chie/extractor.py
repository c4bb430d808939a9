"""The backend interface every CHIE extractor implements, and the registry that names them."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from fitrep.domain import ConceptSet, InvalidInput, Item


@runtime_checkable
class ConceptExtractor(Protocol):
    """Turns items into concept levels. Batched: backends may schedule the batch as they like."""

    name: str
    version: str
    # True: safe and useful to call from many threads at once (the servicer then does not
    # serialise batches); False: one batch at a time.
    concurrent: bool

    def extract(self, items: Sequence[Item], timeout: float | None = None) -> list[ConceptSet]:
        """One ConceptSet per item, same order. Never raises for one bad item's content.

        ``timeout`` (seconds) bounds the whole batch: past it the backend cancels its work
        and raises TimeoutError. A full queue raises ``fitrep.domain.Overloaded``.
        """
        ...

    def stats(self) -> dict[str, float]:
        """Counters and gauges for GetInfo.stats and metrics (empty when it keeps none)."""
        ...

    def close(self) -> None:
        """Release models, engines, threads."""
        ...


# name -> "module:factory"; imported lazily so that the CPU path never imports vLLM.
_BACKENDS: dict[str, str] = {
    "rules": "mllm_server.chie.rules:RulesExtractor",
    "vllm": "mllm_server.chie.vllm_backend:VLLMExtractor",
}


def available_backends() -> list[str]:
    return sorted(_BACKENDS)


def create_extractor(name: str, **options: Any) -> ConceptExtractor:
    """Build the backend called ``name`` with backend-specific ``options``."""
    try:
        target = _BACKENDS[name]
    except KeyError:
        raise InvalidInput(
            "backend", f"unknown backend {name!r}; choose one of {available_backends()}"
        ) from None
    module_name, factory = target.split(":")
    module = importlib.import_module(module_name)
    extractor: ConceptExtractor = getattr(module, factory)(**options)
    return extractor
