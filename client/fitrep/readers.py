"""Reading catalogues (.jsonl / .csv) into Items, with errors that name the line.

Columns: ``id`` (required), ``title``, ``text`` (or ``description``), ``image`` (a file path,
relative to the catalogue file); every other non-empty column becomes an attribute.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fitrep.domain import InvalidInput, Item

_TEXT_KEYS = ("text", "description")


class CatalogueError(InvalidInput):
    """A catalogue file that cannot be read; the message names the file and line."""


def _open_lines(path: Path, encoding: str) -> Iterator[tuple[int, str | CatalogueError]]:
    """(line number, text) per line; a line not valid in ``encoding`` comes as its error, so
    a caller that skips bad lines can go on. A UTF-8 byte-order mark is not part of line 1."""
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    byte, column = raw[exc.start], exc.start + 1
                    message = (
                        f"not valid {encoding} (byte 0x{byte:02x} at column {column}); "
                        "pass --encoding (e.g. --encoding latin-1)"
                    )
                    yield lineno, CatalogueError(f"{path}:{lineno}", message)
                    continue
                yield lineno, text.removeprefix("\ufeff") if lineno == 1 else text
    except FileNotFoundError:
        raise CatalogueError(str(path), "file not found") from None
    except IsADirectoryError:
        raise CatalogueError(str(path), "is a directory; give a .jsonl or .csv file") from None
    except PermissionError:
        raise CatalogueError(str(path), "permission denied") from None
    except LookupError:
        raise CatalogueError("--encoding", f"unknown encoding {encoding!r}") from None


def _to_item(record: dict[str, Any], where: str, base: Path) -> Item:
    record = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    raw_id = record.pop("id", None)
    if raw_id is None or str(raw_id).strip() == "":
        raise CatalogueError(where, "missing 'id'")
    title = str(record.pop("title", "") or "").strip()
    text = ""
    for key in _TEXT_KEYS:
        value = record.pop(key, None)
        if value and not text:
            text = str(value).strip()
    image_value = str(record.pop("image", "") or "").strip()
    image: Path | None = None
    if image_value:
        image = Path(image_value)
        if not image.is_absolute():
            image = base / image
        if not image.exists():
            raise CatalogueError(where, f"image file not found: {image}")
    attributes = {
        k: str(v).strip()
        for k, v in record.items()
        if v is not None and str(v).strip() != "" and not isinstance(v, dict | list)
    }
    item = Item(id=str(raw_id).strip(), title=title, text=text, image=image, attributes=attributes)
    if not (title or text or image is not None):
        raise CatalogueError(where, f"item {item.id!r} has no title, text or image")
    return item


def read_items(path: Path | str, encoding: str = "utf-8") -> list[Item]:
    """All items of a .jsonl or .csv catalogue; ids must be unique. The first bad line raises
    ``CatalogueError`` naming it."""
    items, _ = read_catalogue(path, encoding)
    return items


def read_catalogue(
    path: Path | str, encoding: str = "utf-8", skip_bad: bool = False
) -> tuple[list[Item], list[CatalogueError]]:
    """Items of a .jsonl or .csv catalogue, and (with ``skip_bad``) the errors of the lines
    that were skipped; without it the first bad line raises. Each error names its line."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise CatalogueError(str(path), "is a directory; give a .jsonl or .csv file")
    base = path.resolve().parent
    items: list[Item] = []
    skipped: list[CatalogueError] = []

    def bad(error: CatalogueError) -> None:
        if not skip_bad:
            raise error
        skipped.append(error)

    if suffix in (".jsonl", ".ndjson"):
        for lineno, line in _open_lines(path, encoding):
            if isinstance(line, CatalogueError):
                bad(line)
                continue
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                bad(CatalogueError(where, f"invalid JSON: {exc.msg} (column {exc.colno})"))
                continue
            if not isinstance(record, dict):
                bad(CatalogueError(where, "each line must be a JSON object"))
                continue
            try:
                items.append(_to_item(record, where, base))
            except CatalogueError as exc:
                bad(exc)
    elif suffix == ".csv":
        lines = _csv_lines(_open_lines(path, encoding), bad)
        reader = csv.DictReader(lines)
        try:
            fieldnames = reader.fieldnames
        except csv.Error as exc:
            raise CatalogueError(f"{path}:1", f"malformed CSV header: {exc}") from None
        if fieldnames is None or "id" not in [f.strip().lower() for f in fieldnames]:
            raise CatalogueError(f"{path}:1", "the header must have an 'id' column")
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                lineno = reader.reader.line_num  # DictReader.line_num lags behind on errors
                bad(CatalogueError(f"{path}:{lineno}", f"malformed CSV: {exc}"))
                continue
            try:
                items.append(_to_item(record, f"{path}:{reader.line_num}", base))
            except CatalogueError as exc:
                bad(exc)
    else:
        raise CatalogueError(str(path), f"unsupported file type {suffix!r}: use .jsonl or .csv")
    seen: dict[str, int] = {}
    unique: list[Item] = []
    for i, item in enumerate(items):
        if item.id in seen:
            bad(
                CatalogueError(
                    str(path), f"duplicate id {item.id!r} (items {seen[item.id] + 1} and {i + 1})"
                )
            )
            continue
        seen[item.id] = i
        unique.append(item)
    if not unique:
        raise CatalogueError(str(path), "no items")
    return unique, skipped


def _csv_lines(
    lines: Iterator[tuple[int, str | CatalogueError]], bad: Callable[[CatalogueError], None]
) -> Iterator[str]:
    for _, line in lines:
        if isinstance(line, CatalogueError):
            bad(line)
        else:
            yield line
