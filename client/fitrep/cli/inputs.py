"""Catalogue input and output checks shared by the commands: one clear line per problem.

``--skip-bad`` turns bad lines and unreadable images into one warning with a count; without
it the first one stops the command, naming the line (or the item and its image file).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from fitrep.domain import InvalidInput, Item
from fitrep.readers import CatalogueError, read_catalogue

_err = Console(stderr=True)


def check_out_dir(out: Path) -> None:
    """``out`` must be (or become) a directory: neither it nor a parent may be a file."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise InvalidInput("--out", f"{path} is a file; give a directory")
            return


def load_items(
    file: Path, encoding: str, skip_bad: bool = False, image_bytes: bool = False
) -> list[Item]:
    """The catalogue's items with every image checked (read and decoded, as the concept
    server would); ``image_bytes``: images become their bytes, so a server need not read
    files (``image_uri`` is off by default there)."""
    from mllm_server.images import ImageLimits, check_image

    items, skipped = read_catalogue(file, encoding, skip_bad)
    limits = ImageLimits()
    kept: list[Item] = []
    for item in items:
        if not isinstance(item.image, Path):
            kept.append(item)
            continue
        where = f"{file}: item {item.id!r} image {item.image}"
        try:
            try:
                data = item.image.read_bytes()
            except OSError as exc:
                raise CatalogueError(where, exc.strerror or str(exc)) from None
            check_image(data, where, limits)
        except InvalidInput as exc:
            if not skip_bad:
                raise
            skipped.append(CatalogueError(where, str(exc).removeprefix(f"{where}: ")))
            continue
        kept.append(replace(item, image=data) if image_bytes else item)
    if skipped:
        _err.print(
            f"[yellow]warning:[/] skipped {len(skipped)} bad line(s) or image(s); "
            f"first: {escape(str(skipped[0]))}",
            highlight=False,
        )
    if not kept:
        raise CatalogueError(str(file), "no items left after skipping bad ones")
    return kept
