"""The ConceptService servicer: protobuf in, ``ConceptEngine`` call, protobuf out.

Errors are domain exceptions; ``serving.interceptors.ErrorInterceptor`` turns them into codes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
from fitrep import wire
from fitrep.v1 import concept_service_pb2 as spb
from fitrep.v1 import concept_service_pb2_grpc as spb_grpc

from mllm_server import __version__
from mllm_server.chie.engine import ConceptEngine
from mllm_server.images import ImageIntake
from serving.interceptors import check_batch_size

# Time kept back from the caller's deadline so that the answer still reaches it.
_DEADLINE_MARGIN_S = 0.05
_NO_DEADLINE_S = 1e7


def deadline_timeout(context: grpc.ServicerContext) -> float | None:
    """Seconds left before the caller's deadline, or None without one.

    gRPC reports "no deadline" as None or as a huge number depending on the call kind.
    """
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE_S:
        return None
    return max(remaining - _DEADLINE_MARGIN_S, 0.0)


class ConceptServicer(spb_grpc.ConceptServiceServicer):
    def __init__(
        self, engine: ConceptEngine, max_batch: int, images: ImageIntake | None = None
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.images = images if images is not None else ImageIntake()
        # The CPU backend is not promised thread-safe, and on CPU concurrent batches only
        # compete for the same cores: one batch at a time. A backend that sets
        # ``concurrent = True`` (vLLM: continuous batching wants overlapping calls) is not held.
        self._serialise = not engine.extractor.concurrent
        self._lock = threading.Lock()

    def _extract(
        self, request: spb.ExtractConceptsRequest, context: grpc.ServicerContext
    ) -> spb.ExtractConceptsResponse:
        check_batch_size(len(request.items), self.max_batch)
        timeout = deadline_timeout(context)
        # Read and decode images before taking the lock: a slow or bad one fails alone.
        items = self.images.admit(wire.items_from_pb(request.items), timeout)
        if not self._serialise:
            results = self.engine.process(items, embed=not request.skip_embeddings, timeout=timeout)
        elif self._lock.acquire(timeout=-1 if timeout is None else timeout):
            try:
                results = self.engine.process(
                    items, embed=not request.skip_embeddings, timeout=timeout
                )
            finally:
                self._lock.release()
        else:
            raise TimeoutError("deadline passed while waiting for the backend")
        return spb.ExtractConceptsResponse(
            items=[wire.embedded_to_pb(r) for r in results], request_id=request.request_id
        )

    def ExtractConcepts(
        self, request: spb.ExtractConceptsRequest, context: grpc.ServicerContext
    ) -> spb.ExtractConceptsResponse:
        return self._extract(request, context)

    def StreamExtractConcepts(
        self, request_iterator: Iterator[spb.ExtractConceptsRequest], context: grpc.ServicerContext
    ) -> Iterator[spb.ExtractConceptsResponse]:
        for request in request_iterator:
            yield self._extract(request, context)

    def GetInfo(
        self, request: spb.GetConceptInfoRequest, context: grpc.ServicerContext
    ) -> spb.ConceptInfo:
        return wire.concept_info_to_pb(self.engine.info(), self.max_batch, __version__)
