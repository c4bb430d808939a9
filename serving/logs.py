"""Server logs: key=value lines carrying the request id, and the start-up config line."""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from serving.interceptors import request_id_var

log = logging.getLogger("fitrep.serving")

_SECRET_WORDS = ("token", "key", "secret", "password")


def masked(config: Any) -> dict[str, Any]:
    """A dataclass as a flat dict with secrets replaced by '***', for the start-up line."""

    def mask(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mask(k, v) for k, v in value.items()}
        if value and any(w in key.lower() for w in _SECRET_WORDS):
            return "***"
        return str(value) if isinstance(value, Path) else value

    return {k: mask(k, v) for k, v in dataclasses.asdict(config).items()}


def log_config(name: str, config: Any) -> None:
    """The start-up line: every setting, secrets masked. Logged before anything can fail."""
    log.info("event=config server=%s config=%s", name, masked(config))


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    """key=value lines on stderr; every line carries the request id of the call it serves."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(
        logging.Formatter(
            "ts=%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s "
            "%(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
