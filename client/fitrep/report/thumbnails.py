"""Small JPEG thumbnails of item images, as ``data:`` URIs the report embeds.

A thumbnail is at most ``size`` px on its longer side (about 3 KB for 96 px). An image that
cannot be read is skipped and named, not fatal: the report says which ones and why.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fitrep.domain import Item


@dataclass
class Thumbnails:
    """``uris``: item id -> ``data:image/jpeg;base64,...``; ``failed``: item id -> reason."""

    uris: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def thumbnail_uri(image: bytes | Path, size: int = 96, quality: int = 70) -> str:
    """One image (encoded bytes or a path) as a JPEG ``data:`` URI; raises OSError if unreadable."""
    source = io.BytesIO(image) if isinstance(image, bytes) else Path(image)
    with Image.open(source) as opened:
        # draft() lets the JPEG decoder scale down while decoding: 10x faster on camera photos.
        opened.draft("RGB", (size * 2, size * 2))
        img = opened.convert("RGB")
    img.thumbnail((size, size))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def make_thumbnails(items: Iterable[Item], size: int = 96) -> Thumbnails:
    """Thumbnails of every item that has an image; unreadable ones go to ``failed``."""
    thumbs = Thumbnails()
    for item in items:
        if item.image is None:
            continue
        try:
            thumbs.uris[item.id] = thumbnail_uri(item.image, size)
        except (OSError, UnidentifiedImageError, ValueError) as exc:
            thumbs.failed[item.id] = f"{type(exc).__name__}: {exc}"[:200]
    return thumbs
