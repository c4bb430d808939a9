"""The ``fitrep`` command line. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="fitrep",
    help="FITRep: near-duplicate items with stable cluster ids.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from fitrep.cli import dedup, quality, remote  # noqa: F401


_register()
