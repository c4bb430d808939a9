"""Server interceptors: request ids, call logs, exception -> status, bearer-token auth.

Servicers just raise domain exceptions; the status for each comes from the contract's
``fitrep.rpc_errors.status_for``, whose inverse the SDK uses.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import grpc
from fitrep.domain import InvalidInput, Overloaded
from fitrep.rpc_errors import REQUEST_ID_KEY, Unauthenticated, status_for

from serving.metrics import Metrics

log = logging.getLogger("fitrep.rpc")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
Continuation = Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None]
_PROBES = "/grpc.health.v1."  # health checks: no auth, logged at DEBUG


def check_batch_size(n: int, max_batch: int, where: str = "items") -> None:
    """Both tiers' per-request item limit (``--max-batch``): past it, Overloaded tells the
    caller to split the batch; one message, so both tiers answer alike."""
    if n > max_batch:
        raise Overloaded(f"{where}: {n} items exceed max_batch {max_batch}; split the batch")


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    return {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}


class _Undecodable:
    """What a request that is not a valid message becomes (e.g. invalid UTF-8 in a string
    field): grpc would answer INTERNAL for a failed deserializer, so the failure is carried
    to the behaviour, which reports INVALID_ARGUMENT naming the request."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def decode(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as exc:
            return _Undecodable(exc)

    return decode


def _decoded(request: Any, method: str) -> Any:
    """``request`` itself; InvalidInput when it could not be parsed."""
    if isinstance(request, _Undecodable):
        raise InvalidInput(
            "request",
            f"{method} message cannot be parsed ({request.error}); "
            "string fields must be valid UTF-8",
        )
    return request


def _items_in(request: Any) -> int:
    items = getattr(request, "items", None)
    return len(items) if items is not None and hasattr(items, "__len__") else 0


def _rewrap(
    handler: grpc.RpcMethodHandler,
    wrap: Callable[[Callable[..., Any], bool], Callable[..., Any]],
    deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """The same handler kind with its behaviour wrapped (``bool``: does it stream responses)."""
    ser = {
        "request_deserializer": deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary, False), **ser)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream, True), **ser)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary, False), **ser)
    return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream, True), **ser)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Request id, one log line (and metrics) per call, exception -> status for every RPC."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rid = _metadata(handler_call_details).get(REQUEST_ID_KEY) or uuid.uuid4().hex[:12]
        streams_requests = bool(handler.request_streaming)

        def checked(requests: Iterator[Any]) -> Iterator[Any]:
            for request in requests:
                request = _decoded(request, method)
                if self.metrics is not None and (n := _items_in(request)):
                    self.metrics.batch.labels(method).observe(n)
                yield request

        def wrap(fn: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            if streaming:

                def stream_behaviour(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                    request_id_var.set(rid)
                    start, items = self._begin(method, request, streams_requests)
                    try:
                        request = checked(request) if streams_requests else request
                        yield from fn(_decoded(request, method), context)
                    except BaseException as exc:
                        self._fail(exc, context, method, start, items)
                    else:
                        self._done(method, start, grpc.StatusCode.OK, items=items)

                return stream_behaviour

            def unary_behaviour(request: Any, context: grpc.ServicerContext) -> Any:
                request_id_var.set(rid)
                start, items = self._begin(method, request, streams_requests)
                try:
                    request = checked(request) if streams_requests else request
                    response = fn(_decoded(request, method), context)
                except BaseException as exc:
                    self._fail(exc, context, method, start, items)
                self._done(method, start, grpc.StatusCode.OK, items=items)
                return response

            return unary_behaviour

        return _rewrap(handler, wrap, _tolerant(handler.request_deserializer))

    def _begin(self, method: str, request: Any, streams_requests: bool) -> tuple[float, int]:
        items = 0 if streams_requests else _items_in(request)
        if self.metrics is not None:
            self.metrics.started(method, items)
        return time.perf_counter(), items

    def _done(
        self,
        method: str,
        start: float,
        code: grpc.StatusCode,
        level: int = logging.INFO,
        items: int = 0,
    ) -> None:
        seconds = time.perf_counter() - start
        if self.metrics is not None:
            self.metrics.finished(method, code.name, seconds, items)
        if level == logging.INFO and method.startswith(_PROBES):
            level = logging.DEBUG  # probes every few seconds would drown the real calls
        log.log(level, "event=rpc method=%s code=%s ms=%.1f", method, code.name, seconds * 1000)

    def _fail(
        self,
        exc: BaseException,
        context: grpc.ServicerContext,
        method: str,
        start: float,
        items: int = 0,
    ) -> None:
        """Turn ``exc`` into a status and abort; always raises."""
        if isinstance(exc, GeneratorExit | KeyboardInterrupt | SystemExit):
            self._done(method, start, grpc.StatusCode.CANCELLED, logging.INFO, items)
            raise exc
        if context.code() not in (None, grpc.StatusCode.OK):  # the servicer aborted itself
            self._done(method, start, context.code(), logging.WARNING, items)
            raise exc
        code, message = status_for(exc, request_id_var.get())
        if code == grpc.StatusCode.INTERNAL:
            log.exception("event=rpc_error method=%s", method, exc_info=exc)
        self._done(method, start, code, logging.WARNING, items)
        context.abort(code, message)


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """``authorization: Bearer <token>`` on every call except health checks (probes)."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(_PROBES):
            return handler
        given = _metadata(handler_call_details).get("authorization", "").encode()
        if hmac.compare_digest(given, self._expected):
            return handler

        def deny(fn: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
                raise Unauthenticated("missing or wrong bearer token")

            return behaviour

        return _rewrap(handler, deny)
