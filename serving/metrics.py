"""Prometheus metrics of one server: calls, errors, latency, batch sizes, work in flight.

Each server owns a ``Metrics`` (its own registry, so several servers can run in one process,
as in the tests). ``ErrorInterceptor`` records every call; a tier adds what only it knows
through ``sources`` (name -> a function read at scrape time), e.g. the concept tier's cache
hits or the index tier's item count. Served over HTTP on ``--metrics-port`` (0: off).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Source = Callable[[], float]

# What a tier may export through ``sources``; a name ending in ``_total`` is a counter.
SOURCE_HELP = {
    "fitrep_cache_hits_total": "embedding-string and concept cache hits (concept tier)",
    "fitrep_fallbacks_total": "items the model backend left to the rules fallback",
    "fitrep_index_items": "items in the index (index tier)",
    "fitrep_items_updated_total": "items assigned again with changed content (index tier)",
    "fitrep_items_moved_total": "changed items that left their cluster (index tier)",
    "fitrep_representative_changes_total": "clusters whose representative changed (index tier)",
    "fitrep_disk_full_total": "calls refused with 'no space left on DIR' (index tier)",
    "fitrep_assign_batches_total": "engine calls that served AssignItems (index tier); "
    "calls / batches = the calls one engine call served",
    "fitrep_assign_calls_total": "AssignItems calls served by the batcher (index tier)",
}
_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class _SourceCollector(Collector):
    def __init__(self, sources: Mapping[str, Source]) -> None:
        self._sources = dict(sources)

    def collect(self) -> Iterator[Metric]:
        for name, read in self._sources.items():
            help_text = SOURCE_HELP.get(name, name)
            try:
                value = float(read())
            except Exception:  # a scrape must never fail because one reading did
                continue
            if name.endswith("_total"):
                yield CounterMetricFamily(name.removesuffix("_total"), help_text, value=value)
            else:
                yield GaugeMetricFamily(name, help_text, value=value)


class Metrics:
    """The metric families of one server; ``observe_*`` are called by the interceptor."""

    def __init__(self, sources: Mapping[str, Source] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "fitrep_requests", "RPCs by method and status code", ["method", "code"], registry=r
        )
        self.errors = Counter(
            "fitrep_errors", "RPCs that ended with a code other than OK", ["method", "code"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "fitrep_request_seconds", "RPC latency, seconds", ["method"],
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch = Histogram(
            "fitrep_batch_items", "items per request message", ["method"],
            buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "fitrep_queue_depth", "requests and items in flight (accepted, not answered)",
            ["unit"], registry=r,
        )  # fmt: skip
        if sources:
            r.register(_SourceCollector(sources))
        self._http: Any = None
        self._thread: threading.Thread | None = None

    def started(self, method: str, items: int) -> None:
        self.queue_depth.labels("requests").inc()
        if items:
            self.queue_depth.labels("items").inc(items)
            self.batch.labels(method).observe(items)

    def finished(self, method: str, code: str, seconds: float, items: int) -> None:
        self.queue_depth.labels("requests").dec()
        if items:
            self.queue_depth.labels("items").dec(items)
        self.requests.labels(method, code).inc()
        if code != "OK":
            self.errors.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def serve(self, host: str, port: int) -> None:
        """``GET /metrics`` on ``host:port`` in a daemon thread."""
        self._http, self._thread = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
