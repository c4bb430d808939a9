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
from fitrep.rpc_errors import REQUEST_ID_KEY, Unauthenticated, status_for

log = logging.getLogger("fitrep.rpc")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
Continuation = Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None]
_PROBES = "/grpc.health.v1."  # health checks: no auth, logged at DEBUG


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    return {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}


def _rewrap(
    handler: grpc.RpcMethodHandler, wrap: Callable[[Callable[..., Any], bool], Callable[..., Any]]
) -> grpc.RpcMethodHandler:
    """The same handler kind with its behaviour wrapped (``bool``: does it stream responses)."""
    ser = {
        "request_deserializer": handler.request_deserializer,
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
    """Request id, one log line per call, and exception -> status code for every RPC."""

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        rid = _metadata(handler_call_details).get(REQUEST_ID_KEY) or uuid.uuid4().hex[:12]

        def wrap(fn: Callable[..., Any], streaming: bool) -> Callable[..., Any]:
            if streaming:

                def stream_behaviour(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                    request_id_var.set(rid)
                    start = time.perf_counter()
                    try:
                        yield from fn(request, context)
                    except BaseException as exc:
                        self._fail(exc, context, method, start)
                    else:
                        self._done(method, start, grpc.StatusCode.OK)

                return stream_behaviour

            def unary_behaviour(request: Any, context: grpc.ServicerContext) -> Any:
                request_id_var.set(rid)
                start = time.perf_counter()
                try:
                    response = fn(request, context)
                except BaseException as exc:
                    self._fail(exc, context, method, start)
                self._done(method, start, grpc.StatusCode.OK)
                return response

            return unary_behaviour

        return _rewrap(handler, wrap)

    @staticmethod
    def _done(method: str, start: float, code: grpc.StatusCode, level: int = logging.INFO) -> None:
        if level == logging.INFO and method.startswith(_PROBES):
            level = logging.DEBUG  # probes every few seconds would drown the real calls
        ms = (time.perf_counter() - start) * 1000
        log.log(level, "event=rpc method=%s code=%s ms=%.1f", method, code.name, ms)

    def _fail(
        self, exc: BaseException, context: grpc.ServicerContext, method: str, start: float
    ) -> None:
        """Turn ``exc`` into a status and abort; always raises."""
        if isinstance(exc, GeneratorExit | KeyboardInterrupt | SystemExit):
            raise exc
        if context.code() not in (None, grpc.StatusCode.OK):  # the servicer aborted itself
            self._done(method, start, context.code(), logging.WARNING)
            raise exc
        code, message = status_for(exc, request_id_var.get())
        if code == grpc.StatusCode.INTERNAL:
            log.exception("event=rpc_error method=%s", method, exc_info=exc)
        self._done(method, start, code, logging.WARNING)
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
