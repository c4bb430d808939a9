"""CHIE engine side: extraction backends and the level encoder. No gRPC in here."""

from mllm_server.chie.extractor import ConceptExtractor, available_backends, create_extractor

__all__ = ["ConceptExtractor", "available_backends", "create_extractor"]
