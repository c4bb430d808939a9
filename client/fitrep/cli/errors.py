"""User errors become one red line and exit code 2; no tracebacks for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from fitrep.domain import FitrepError

_err = Console(stderr=True)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except FitrepError as exc:
        _err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        _err.print("[red]interrupted[/]")
        raise typer.Exit(130) from None
