"""The ``fitrep`` command line. Each command lives in its own module and registers on ``app``."""

from __future__ import annotations

import inspect
import re
from typing import Any

import typer
from typer.core import TyperCommand

from fitrep import __version__
from serving.gc_policy import tune_for_batches

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
    tune_for_batches()  # a command is a batch job in a process of its own (serving.gc_policy)


def unwrap_paragraphs(text: str) -> str:
    """Docstring paragraphs on one line each: typer's rich help keeps a docstring's line
    breaks, so text wrapped at 100 columns in the source broke mid-sentence on screen."""
    paragraphs = re.split(r"\n\s*\n", inspect.cleandoc(text))
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


class _Command(TyperCommand):
    """Usage lines as other tools write them, ``fitrep dedup [OPTIONS] FILE``: typer 0.29
    writes a required argument in braces (``{file}``), which reads as a placeholder left
    unfilled."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # a click Context (vendored by typer)
        return [re.sub(r"\{([^{}]*)\}", r"\1", p) for p in super().collect_usage_pieces(ctx)]


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from fitrep.cli import dedup, label, quality, remote  # noqa: F401

    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = _Command
        doc = command.help or inspect.getdoc(command.callback)
        if doc:
            command.help = unwrap_paragraphs(doc)


_register()
