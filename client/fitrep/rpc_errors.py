"""Domain errors <-> gRPC status codes, in one place for both directions.

This is part of the contract, next to ``wire``: ``status_for`` (exception -> status, used by
the servers' ``serving.interceptors.ErrorInterceptor``) and ``from_rpc_error`` (status ->
exception, used by the SDK) must stay each other's inverse, so they live in one module that
both sides import and that imports nothing but ``fitrep.domain`` and grpc. The interceptors
themselves are server plumbing and live in ``serving/``, which the SDK never imports.
"""

from __future__ import annotations

import grpc

from fitrep.domain import (
    AlreadyExists,
    FailedPrecondition,
    FitrepError,
    InvalidInput,
    NoSpace,
    NotFound,
    Overloaded,
)

REQUEST_ID_KEY = "x-request-id"  # metadata key: the SDK sends it, servers log it
NO_SPACE = "no space left on "  # how a NoSpace message starts, so the SDK can tell it apart


class Unauthenticated(FitrepError):
    """Missing or wrong bearer token."""


class Unavailable(FitrepError, ConnectionError):
    """A server or the backend behind it is down; safe to retry idempotent calls."""


class RemoteError(FitrepError):
    """A server failure with no domain meaning (INTERNAL, UNKNOWN, ...)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def status_for(exc: BaseException, request_id: str = "-") -> tuple[grpc.StatusCode, str]:
    """The status a server answers for ``exc``; the message of user errors names the field.

    Internal errors hide their message and name ``request_id``, to find it in the logs.
    """
    if isinstance(exc, InvalidInput):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, FailedPrecondition):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    if isinstance(exc, AlreadyExists):
        return grpc.StatusCode.ALREADY_EXISTS, str(exc)
    if isinstance(exc, Overloaded):  # NoSpace too: its message says so
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
    if isinstance(exc, TimeoutError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, str(exc) or "deadline exceeded"
    if isinstance(exc, Unauthenticated):
        return grpc.StatusCode.UNAUTHENTICATED, str(exc)
    if isinstance(exc, ConnectionError):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    return grpc.StatusCode.INTERNAL, f"internal error (request_id={request_id})"


def from_rpc_error(err: grpc.RpcError) -> Exception:
    """The domain exception for a failed call, carrying the server's message."""
    code: grpc.StatusCode = err.code()  # type: ignore[attr-defined]
    details: str = err.details() or ""  # type: ignore[attr-defined]
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        field, sep, message = details.partition(": ")
        return InvalidInput(field, message) if sep else InvalidInput("request", details)
    if code == grpc.StatusCode.NOT_FOUND:
        what, sep, key = details.partition(" not found: ")
        return NotFound(what, key) if sep else NotFound("item", details)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        field, sep, message = details.partition(": ")
        return FailedPrecondition(field, message) if sep else FailedPrecondition("request", details)
    if code == grpc.StatusCode.ALREADY_EXISTS:
        field, sep, message = details.partition(": ")
        return AlreadyExists(field, message) if sep else AlreadyExists("request", details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return NoSpace(details) if details.startswith(NO_SPACE) else Overloaded(details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return TimeoutError(details)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return Unauthenticated(details)
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(details)
    return RemoteError(code, details)
