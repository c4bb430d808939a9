"""Configuration of the index server: transport settings plus every ``IndexConfig`` knob.

Flags for ``IndexConfig`` are derived from its fields, so a knob added there is a flag here
without touching this file.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.defaults import INDEX_PORT
from fitrep.domain import InvalidInput

from index_server.config import IndexConfig
from serving.bootstrap import ServingConfig, add_serving_args, serving_config_from_args

DEFAULT_PORT = INDEX_PORT


@dataclass
class IndexServerConfig:
    serving: ServingConfig = field(default_factory=ServingConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    max_batch: int = 4096
    batch_wait_ms: float = 2.0  # how long a lone AssignItems call waits for company
    batch_calls: int = 64  # AssignItems calls one engine call may serve (1: no batching)
    snapshot_root: Path | None = None  # Snapshot paths must resolve inside it
    check: Path | None = None  # --check DIR: verify that store offline and exit

    def resolved_snapshot_root(self) -> Path | None:
        if self.snapshot_root is not None:
            return self.snapshot_root
        return self.index.data_dir / "snapshots" if self.index.data_dir else None


def _flag_type(hint: Any) -> Any:
    """The argparse ``type`` for a field annotation such as ``int``, ``Path | None``."""
    args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    return args[0]


def _add_index_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("index (IndexConfig)")
    hints = typing.get_type_hints(IndexConfig)
    for f in dataclasses.fields(IndexConfig):
        kind = _flag_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        if kind is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            g.add_argument(flag, type=kind, default=f.default, help=f"default: {f.default}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m index_server", description=__doc__)
    add_serving_args(p, DEFAULT_PORT)
    _add_index_args(p)
    # a server does not stop every call while SPDR is refitted (``IndexConfig``)
    p.set_defaults(refit_in_background=True)
    p.add_argument("--max-batch", type=int, default=4096, help="items per request or chunk")
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=2.0,
        help="how long an AssignItems call alone in the queue waits for others to share its "
        "engine call (calls that arrive while the engine works are batched anyway; 0: no wait)",
    )
    p.add_argument(
        "--batch-calls",
        type=int,
        default=64,
        help="AssignItems calls one engine call may serve, up to --max-batch items in all "
        "(1: every call alone)",
    )
    p.add_argument(
        "--snapshot-root",
        type=Path,
        default=None,
        help="Snapshot paths must lie inside it (default: DATA_DIR/snapshots)",
    )
    p.add_argument(
        "--check",
        type=Path,
        default=None,
        metavar="DIR",
        help="verify the store in DIR offline (read-only, safe beside a running server), "
        "print one line and exit: 0 when it is whole, 1 naming the first fault",
    )
    return p


def config_from_args(argv: Sequence[str] | None = None) -> IndexServerConfig:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:  # IndexConfig checks its values (the representative policy) as it is made
        index = IndexConfig(
            **{f.name: getattr(ns, f.name) for f in dataclasses.fields(IndexConfig)}
        )
    except InvalidInput as exc:
        parser.error(str(exc))
    return IndexServerConfig(
        serving=serving_config_from_args(ns),
        index=index,
        max_batch=ns.max_batch,
        batch_wait_ms=ns.batch_wait_ms,
        batch_calls=ns.batch_calls,
        snapshot_root=ns.snapshot_root,
        check=ns.check,
    )
