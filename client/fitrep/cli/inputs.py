"""Catalogue input and output checks shared by the commands: one clear line per problem.

Without ``--skip-bad`` the first bad line or unreadable image stops the command, naming the
line and the item. With it, bad lines are skipped and an item whose only fault is its image
(missing, or not a readable image) is kept without the image; each is warned about once
with a count, and ``fitrep dedup`` lists every one in summary.json (``Catalogue``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.markup import escape

from fitrep.cli.errors import message_console
from fitrep.domain import InvalidInput, Item, read_number
from fitrep.readers import Catalogue, CatalogueError, no_items, read_catalogue, unreadable

_err = message_console()


ENCODER_HELP = (
    "Text encoder: minilm (the transformer; default, or $FITREP_ENCODER) or static (a token "
    "table distilled from it: far faster, lower quality; docs/architecture.md)."
)
DEDUP_ENCODER_HELP = (
    "Text encoder: auto (default, or $FITREP_ENCODER): minilm up to 25,000 items per core, "
    "static beyond; minilm (the transformer) or static (a token table distilled from it: "
    "10x faster, a little less precise; docs/architecture.md)."
)


def checked_encoder(name: str | None, items: int | None = None) -> str:
    """``--encoder`` (else ``$FITREP_ENCODER``, else auto for a catalogue of ``items``, minilm
    without one), checked before any work starts."""
    from mllm_server.chie.encoder import requested_encoder

    try:
        return requested_encoder(name, items)
    except ValueError as exc:
        raise InvalidInput("--encoder", str(exc)) from None


def auto_encoder_note(name: str | None, chosen: str, items: int) -> str | None:
    """What ``auto`` chose and why, when the encoder was left to it (None otherwise)."""
    from mllm_server.chie.encoder import AUTO, named_encoder
    from serving.machine import usable_cores

    if named_encoder(name, items) != AUTO:
        return None
    cores = usable_cores()
    return f"encoder: {chosen} (auto for {items:,} items on {cores} cores; --encoder names one)"


def check_out_dir(out: Path) -> None:
    """``out`` must be (or become) a directory: neither it nor a parent may be a file."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise InvalidInput("--out", f"{path} is a file; give a directory")
            return


def check_rank_column(column: str, catalogue: Catalogue, file: Path) -> None:
    """``--representative column:NAME`` ranks a cluster's members by the number in NAME. A
    name the catalogue lacks, or a column without one number, ranked every member alike (the
    first stood for each cluster) without a word: one error naming what exists instead."""
    numeric: set[str] = set()
    seen: set[str] = set()
    for item in catalogue.items:
        for key, value in item.attributes.items():
            seen.add(key)
            if key not in numeric and read_number(value) is not None:
                numeric.add(key)
    if column in numeric:
        return
    if column in seen:
        what = f"column {column!r} of {file} holds no number"
    else:
        what = f"{file} has no column {column!r}"
    others = ", ".join(sorted(seen - numeric)) or "none"
    raise InvalidInput(
        "--representative",
        f"{what}; columns with numbers: {', '.join(sorted(numeric)) or 'none'} "
        f"(other columns: {others})",
    )


def load_items(
    file: Path, encoding: str, skip_bad: bool = False, image_bytes: bool = False
) -> Catalogue:
    """The catalogue with every image checked (read and decoded, as the concept server
    would); ``image_bytes``: images become their bytes, so a server need not read files
    (``image_uri`` is off by default there)."""
    from mllm_server.images import ImageLimits, check_image

    catalogue = read_catalogue(file, encoding, skip_bad)
    limits = ImageLimits()
    kept: list[Item] = []
    for item in catalogue.items:
        if item.image is None:
            kept.append(item)
            continue
        line = catalogue.lines.get(item.id, str(file))
        shown = item.image if isinstance(item.image, Path) else f"({len(item.image)} bytes)"
        where = f"{line}: item {item.id!r} image {shown}"
        try:
            try:
                data = _image_data(item.image)
            except OSError as exc:
                raise CatalogueError(where, exc.strerror or str(exc), item.id) from None
            check_image(data, where, limits)
        except InvalidInput as exc:
            if not skip_bad:
                raise
            reason = str(exc).removeprefix(f"{where}: ")
            catalogue.dropped_images.append(
                CatalogueError(line, f"image {shown}: {reason}", item.id)
            )
            item = replace(item, image=None)
            error = unreadable(item, line)
            if error is not None:  # the image was all it had
                catalogue.skipped.append(error)
                continue
            kept.append(item)
            continue
        kept.append(replace(item, image=data) if image_bytes else item)
    if not kept:
        raise CatalogueError(str(file), no_items(catalogue.skipped))
    _warn(catalogue)
    catalogue.items = kept
    return catalogue


def _image_data(image: bytes | Path) -> bytes:
    """An image's bytes: a Parquet binary column holds them, other catalogues name a file."""
    return image if isinstance(image, bytes) else image.read_bytes()


def _warn(catalogue: Catalogue) -> None:
    """One line per kind, with a count and the first case."""
    for found, what in (
        (catalogue.skipped, "skipped {n} bad line(s)"),
        (catalogue.dropped_images, "kept {n} item(s) without their unreadable image"),
    ):
        if found:
            _err.print(
                f"[yellow]warning:[/] {what.format(n=len(found))}; first: {escape(str(found[0]))}",
                highlight=False,
                soft_wrap=True,
            )
