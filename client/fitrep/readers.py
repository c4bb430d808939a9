"""Reading catalogues (.jsonl / .csv) into Items, with errors that name the line.

Columns: ``id`` (required), ``title``, ``text`` (or ``description``), ``image`` (a file path,
relative to the catalogue file); every other non-empty column becomes an attribute.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fitrep.domain import InvalidInput, Item

_TEXT_KEYS = ("text", "description")


class CatalogueError(InvalidInput):
    """A catalogue file that cannot be read; the message names the file and line."""


def _open_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    yield lineno, raw.decode(encoding)
                except UnicodeDecodeError as exc:
                    raise CatalogueError(
                        f"{path}:{lineno}",
                        f"not valid {encoding} (byte 0x{raw[exc.start]:02x}"
                        f" at column {exc.start + 1}); pass --encoding (e.g. --encoding latin-1)",
                    ) from None
    except FileNotFoundError:
        raise CatalogueError(str(path), "file not found") from None
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
    """All items of a .jsonl or .csv catalogue; ids must be unique."""
    path = Path(path)
    suffix = path.suffix.lower()
    base = path.resolve().parent
    items: list[Item] = []
    if suffix in (".jsonl", ".ndjson"):
        for lineno, line in _open_lines(path, encoding):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CatalogueError(f"{path}:{lineno}", f"invalid JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise CatalogueError(f"{path}:{lineno}", "each line must be a JSON object")
            items.append(_to_item(record, f"{path}:{lineno}", base))
    elif suffix == ".csv":
        lines = (line for _, line in _open_lines(path, encoding))
        reader = csv.DictReader(lines)
        if reader.fieldnames is None or "id" not in [f.strip().lower() for f in reader.fieldnames]:
            raise CatalogueError(f"{path}:1", "the header must have an 'id' column")
        for record in reader:
            items.append(_to_item(record, f"{path}:{reader.line_num}", base))
    else:
        raise CatalogueError(str(path), f"unsupported file type {suffix!r}: use .jsonl or .csv")
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if item.id in seen:
            raise CatalogueError(
                str(path), f"duplicate id {item.id!r} (items {seen[item.id] + 1} and {i + 1})"
            )
        seen[item.id] = i
    if not items:
        raise CatalogueError(str(path), "no items")
    return items
