"""The ``fitrep`` command line. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

import typer

from fitrep import __version__

app = typer.Typer(
    name="fitrep",
    help="FITRep: near-duplicate items with stable cluster ids.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"fitrep {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Options that come before any command."""


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from fitrep.cli import dedup, label, quality, remote  # noqa: F401


_register()
