"""Reading Ditto-format pair files (megagonlabs/ditto, ``data/er_magellan``) into Items.

One pair a line: ``LEFT<TAB>RIGHT[<TAB>LABEL]``; each side is serialised as
``COL name VAL ... COL description VAL ... COL price VAL ...``. The first column (whatever
its name: title, name, ...) becomes the title, a description column the text, every other
non-empty column an attribute. Identical sides become one Item, so each distinct offer is
embedded once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fitrep.domain import InvalidInput, Item

_COL = re.compile(r"(?:^|\s)COL\s+(\S+)\s+VAL(?=\s|$)")
_TEXT_KEYS = ("description", "desc", "text")


@dataclass
class PairFile:
    """Distinct items and the pairs between them (indices into ``items``)."""

    items: list[Item]
    pairs: list[tuple[int, int]]
    labels: list[int | None]  # None where the file has no label column


def parse_side(text: str, item_id: str) -> Item:
    """``COL a VAL x COL b VAL y`` -> Item (first column = title, description = text)."""
    matches = list(_COL.finditer(text))
    if not matches:
        return Item(id=item_id, title=text.strip())
    fields: list[tuple[str, str]] = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        fields.append((m.group(1).lower(), text[m.end() : end].strip()))
    title = fields[0][1]
    body = ""
    attributes: dict[str, str] = {}
    for key, value in fields[1:]:
        if not value:
            continue
        if key in _TEXT_KEYS and not body:
            body = value
        else:
            attributes[key] = value
    if not title and not body:
        # A side with nothing but attributes still names something: keep it as the title.
        title = " ".join(attributes.values()) or "(empty)"
    return Item(id=item_id, title=title, text=body, attributes=attributes)


def read_pairs(path: Path | str, encoding: str = "utf-8") -> PairFile:
    """Parse one pair file; errors name the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes().decode(encoding)
    except FileNotFoundError:
        raise InvalidInput(str(path), "file not found") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(str(path), f"not valid {encoding}: {exc}; pass --encoding") from None
    index: dict[str, int] = {}
    items: list[Item] = []
    pairs: list[tuple[int, int]] = []
    labels: list[int | None] = []

    def intern(side: str) -> int:
        key = side.strip()
        if key not in index:
            index[key] = len(items)
            items.append(parse_side(key, f"p{len(items)}"))
        return index[key]

    for lineno, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\r").split("\t")
        if len(parts) < 2:
            raise InvalidInput(f"{path}:{lineno}", "expected LEFT<TAB>RIGHT[<TAB>LABEL]")
        label: int | None = None
        if len(parts) >= 3 and parts[2].strip():
            try:
                label = int(parts[2].strip())
            except ValueError:
                raise InvalidInput(
                    f"{path}:{lineno}", f"label {parts[2]!r} is not 0 or 1"
                ) from None
        pairs.append((intern(parts[0]), intern(parts[1])))
        labels.append(label)
    return PairFile(items, pairs, labels)
