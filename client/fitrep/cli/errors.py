"""User errors become one red line and exit code 2; no tracebacks for them.

Every message the CLI prints goes through a console from ``message_console``: soft-wrapped,
so an error, a warning or a summary is one line whatever the terminal. Rich assumes 80
columns when its stream is a file or a pipe and would otherwise break a long line in two
(``... and`` / ``no image``), which splits it for ``grep`` and log collectors; a terminal
folds long lines itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape

from fitrep.domain import FitrepError


def message_console(stderr: bool = True) -> Console:
    """A console whose ``print`` never breaks a line (see the module docstring)."""
    return Console(stderr=stderr, soft_wrap=True)


_err = message_console()


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
