"""Reading catalogues (.jsonl / .csv / .parquet) into Items, with errors that name the line
(``FILE:LINE``; a Parquet row as ``FILE row N``, ``fitrep.parquet_io``).

Columns: ``id`` (required), ``title``, ``text`` (or ``description``), ``image`` (a file path,
relative to the catalogue file; in Parquet also the image's bytes, a binary column or a
``{bytes, path}`` struct); every other non-empty column becomes an attribute.

A bad line stops the read, naming ``file:line`` (and the item id when there is one); with
``skip_bad`` it is skipped and listed instead. An item whose only fault is a missing image
is kept without it under ``skip_bad`` (listed in ``dropped_images``). An item needs readable
text (a letter or digit, ``domain.has_readable_text``) or an image: a title of emoji or
zero-width characters alone gives the concept tier nothing to read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fitrep.domain import InvalidInput, Item, has_readable_text

_TEXT_KEYS = ("text", "description")
_GIVE = "give a .jsonl, .csv or .parquet file"


class CatalogueError(InvalidInput):
    """A catalogue file that cannot be read; the message names the file and line, and
    ``item_id`` the item when the line has one."""

    def __init__(self, field_name: str, message: str, item_id: str | None = None) -> None:
        super().__init__(field_name, message)
        self.item_id = item_id

    def to_json(self) -> dict[str, str | None]:
        """For summary.json: ``line`` (file:line), ``id``, ``reason``."""
        return {"line": self.field, "id": self.item_id, "reason": self.message}


@dataclass
class Catalogue:
    """What ``read_catalogue`` read: the items, the bad lines it skipped, the images it
    dropped (both only with ``skip_bad``), and each item's ``file:line``."""

    items: list[Item]
    skipped: list[CatalogueError] = field(default_factory=list)
    dropped_images: list[CatalogueError] = field(default_factory=list)
    lines: dict[str, str] = field(default_factory=dict)


def unreadable(item: Item, where: str) -> CatalogueError | None:
    """The error for an item without readable text and without an image, else None."""
    if item.image is None and not has_readable_text(f"{item.title} {item.text}"):
        return CatalogueError(
            where,
            f"item {item.id!r} has no readable text (no letter or digit) and no image",
            item.id,
        )
    return None


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
        raise CatalogueError(str(path), f"is a directory; {_GIVE}") from None
    except PermissionError:
        raise CatalogueError(str(path), "permission denied") from None
    except LookupError:
        raise CatalogueError("--encoding", f"unknown encoding {encoding!r}") from None


def no_items(skipped: list[CatalogueError]) -> str:
    """Why a catalogue gave no items: under ``skip_bad`` every line may have been skipped, and
    a bare "no items" hid that (a latin-1 file read as UTF-8 skips every line with a text)."""
    if not skipped:
        return "no items"
    encoding = sum(error.message.startswith("not valid ") for error in skipped)
    hint = (
        f"; {encoding} of them not valid in the encoding: pass --encoding (e.g. --encoding latin-1)"
        if encoding
        else ""
    )
    return (
        f"no items: every line was skipped as bad ({len(skipped)} line(s)){hint}; "
        f"first: {skipped[0]}"
    )


def _json_record(line: str) -> Any:
    """One jsonl line parsed without its line ending: a fault at the end of the line is then
    reported at the end's column, not at column 1 of the "next line" the newline opened."""
    return json.loads(line.rstrip("\r\n"))


def _to_item(
    record: dict[str, Any], where: str, base: Path, dropped: list[CatalogueError] | None
) -> Item:
    """``dropped``: collects missing images instead of raising (``skip_bad``)."""
    record = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    raw_id = record.pop("id", None)
    if raw_id is None or str(raw_id).strip() == "":
        raise CatalogueError(where, "missing 'id'")
    item_id = str(raw_id).strip()
    title = str(record.pop("title", "") or "").strip()
    text = ""
    for key in _TEXT_KEYS:
        value = record.pop(key, None)
        if value and not text:
            text = str(value).strip()
    raw_image = record.pop("image", None)
    if isinstance(raw_image, dict):  # Parquet's {bytes, path} struct (Hugging Face datasets)
        raw_image = raw_image.get("bytes") or raw_image.get("path")
    image: bytes | Path | None = None
    image_value = ""
    if isinstance(raw_image, bytes | bytearray):  # a Parquet binary column: the image itself
        if raw_image:
            image, image_value = bytes(raw_image), "bytes"
    elif raw_image is not None:
        image_value = str(raw_image).strip()
    if image_value and image is None:
        image = Path(image_value)
        if not image.is_absolute():
            image = base / image
        if not image.exists():
            missing = CatalogueError(where, f"image file not found: {image}", item_id)
            if dropped is None:
                raise missing
            dropped.append(missing)
            image = None
    attributes = {
        k: str(v).strip()
        for k, v in record.items()
        if v is not None
        and not isinstance(v, dict | list | bytes | bytearray)
        and str(v).strip() != ""
    }
    item = Item(id=item_id, title=title, text=text, image=image, attributes=attributes)
    if not (title or text or image_value):
        raise CatalogueError(where, f"item {item.id!r} has no title, text or image", item_id)
    error = unreadable(item, where)
    if error is not None:
        raise error
    return item


def read_items(path: Path | str, encoding: str = "utf-8") -> list[Item]:
    """All items of a .jsonl, .csv or .parquet catalogue; ids must be unique. The first bad
    line raises ``CatalogueError`` naming it."""
    return read_catalogue(path, encoding).items


def read_catalogue(path: Path | str, encoding: str = "utf-8", skip_bad: bool = False) -> Catalogue:
    """Items of a .jsonl, .csv or .parquet catalogue; without ``skip_bad`` the first bad line
    raises, with it every bad line is skipped and listed. Each error names its line."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise CatalogueError(str(path), f"is a directory; {_GIVE}")
    base = path.resolve().parent
    items: list[Item] = []
    out = Catalogue(items)
    dropped = out.dropped_images if skip_bad else None
    where_of: list[str] = []

    def bad(error: CatalogueError) -> None:
        if not skip_bad:
            raise error
        out.skipped.append(error)

    def add(record: dict[str, Any], where: str) -> None:
        try:
            items.append(_to_item(record, where, base, dropped))
            where_of.append(where)
        except CatalogueError as exc:
            bad(exc)

    for where, record in _records(path, suffix, encoding, bad):
        add(record, where)
    unique: list[Item] = []
    for item, where in zip(items, where_of, strict=True):
        if item.id in out.lines:
            first = out.lines[item.id]
            bad(CatalogueError(where, f"duplicate id {item.id!r} (first at {first})", item.id))
            continue
        out.lines[item.id] = where
        unique.append(item)
    if not unique:
        raise CatalogueError(str(path), no_items(out.skipped))
    out.items = unique
    return out


def _records(
    path: Path, suffix: str, encoding: str, bad: Callable[[CatalogueError], None]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) per row of the file, by its type; a row that is not a record goes to
    ``bad`` (which raises unless bad rows are skipped)."""
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_records(path, encoding, bad)
    if suffix == ".csv":
        return _csv_records(path, encoding, bad)
    if suffix in (".parquet", ".pq"):
        from fitrep.parquet_io import parquet_records

        return parquet_records(path, bad)
    raise CatalogueError(
        str(path), f"unsupported file type {suffix!r}: use .jsonl, .csv or .parquet"
    )


def _jsonl_records(
    path: Path, encoding: str, bad: Callable[[CatalogueError], None]
) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, line in _open_lines(path, encoding):
        if isinstance(line, CatalogueError):
            bad(line)
            continue
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = _json_record(line)
        except json.JSONDecodeError as exc:
            bad(CatalogueError(where, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(record, dict):
            bad(CatalogueError(where, "each line must be a JSON object"))
            continue
        yield where, record


def _csv_records(
    path: Path, encoding: str, bad: Callable[[CatalogueError], None]
) -> Iterator[tuple[str, dict[str, Any]]]:
    reader = csv.DictReader(_csv_lines(_open_lines(path, encoding), bad))
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
            return
        except csv.Error as exc:
            lineno = reader.reader.line_num  # DictReader.line_num lags behind on errors
            bad(CatalogueError(f"{path}:{lineno}", f"malformed CSV: {exc}"))
            continue
        yield f"{path}:{reader.line_num}", record


def _csv_lines(
    lines: Iterator[tuple[int, str | CatalogueError]], bad: Callable[[CatalogueError], None]
) -> Iterator[str]:
    for _, line in lines:
        if isinstance(line, CatalogueError):
            bad(line)
        else:
            yield line
