"""Images from requests, checked before the engine sees them.

A request's images are untrusted: ``image_uri`` names a file on the *server* (off unless
``--image-root`` allows a directory; only regular files under it, after resolving symlinks,
size-capped, read with a timeout), and any image may be a decompression bomb or corrupt.
``ImageIntake.admit`` reads and fully decodes every image in a small bounded pool, outside
the servicer's batch lock, and enforces per-image and per-request byte and pixel limits, so
one bad or slow item fails alone with its index named, and never stalls other clients.
"""

from __future__ import annotations

import io
import os
import re
import stat
import warnings
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from pathlib import Path

from fitrep.domain import InvalidInput, Item, Overloaded
from PIL import Image, UnidentifiedImageError

MiB = 1024 * 1024
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")


@dataclass(frozen=True)
class ImageLimits:
    """``root``: the directory ``image_uri`` may read from (None: ``image_uri`` is refused)."""

    root: Path | None = None
    max_image_mb: float = 20.0
    max_image_megapixels: float = 40.0
    max_request_mb: float = 128.0
    max_request_megapixels: float = 200.0
    read_timeout_s: float = 5.0
    workers: int = 2


def _megapixels(n: float) -> str:
    return f"{n / 1e6:.4g} megapixels"


def image_pixels(image: bytes | Path | None) -> int:
    """Width x height from the image's header (nothing decoded); 0 without a readable one.
    What ``--representative most-complete`` compares after the number of filled fields."""
    if image is None:
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            source = io.BytesIO(image) if isinstance(image, bytes | bytearray) else image
            with Image.open(source) as img:
                return int(img.size[0] * img.size[1])
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 0


def check_image(data: bytes, where: str, limits: ImageLimits) -> int:
    """Decode ``data`` fully; its pixel count. InvalidInput (naming ``where``) when it is not a
    readable image or has more pixels than ``limits`` allow; the header is read first, so a
    bomb is refused before its pixels are."""
    if len(data) > limits.max_image_mb * MiB:
        raise InvalidInput(
            where, f"{len(data)} bytes exceeds the limit of {limits.max_image_mb:g} MB"
        )
    limit = limits.max_image_megapixels * 1e6
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if width * height > limit:
                    raise InvalidInput(
                        where,
                        f"{width}x{height} pixels exceeds the limit of "
                        f"{limits.max_image_megapixels:g} megapixels",
                    )
                img.load()
    except Image.DecompressionBombError as exc:  # PIL refuses to even open it
        found = _BOMB_PIXELS.search(str(exc))
        size = _megapixels(int(found.group(1))) if found else "its size"
        raise InvalidInput(
            where, f"{size} exceeds the limit of {limits.max_image_megapixels:g} megapixels"
        ) from None
    except UnidentifiedImageError:
        raise InvalidInput(where, "not an image in a known format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(where, f"corrupt image ({exc})") from None
    return int(width * height)


def read_under_root(uri: str, where: str, limits: ImageLimits) -> bytes:
    """The bytes of ``uri`` if it is a regular file under ``limits.root`` (symlinks resolved)."""
    if limits.root is None:
        raise InvalidInput(
            where,
            "this server does not read image files (no --image-root); send the bytes in 'image'",
        )
    root = limits.root.resolve()
    path = Path(uri)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput(where, f"{uri!r} is outside the image root")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise InvalidInput(where, f"{uri!r}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(where, f"{uri!r} is not a regular file")
        cap = int(limits.max_image_mb * MiB)
        if info.st_size > cap:
            raise InvalidInput(
                where, f"{info.st_size} bytes exceeds the limit of {limits.max_image_mb:g} MB"
            )
        return fh.read(cap + 1)


class ImageIntake:
    """Reads and checks the images of a request in a bounded pool (see module docstring)."""

    def __init__(self, limits: ImageLimits | None = None) -> None:
        self.limits = limits or ImageLimits()
        self._pool = futures.ThreadPoolExecutor(self.limits.workers, thread_name_prefix="image")

    def admit(self, items: Sequence[Item], timeout: float | None = None) -> list[Item]:
        """``items`` with every image as checked bytes. InvalidInput names the first bad item;
        Overloaded when the request's images together exceed the per-request limits."""
        lim = self.limits
        reads = {
            i: self._pool.submit(read_under_root, str(it.image), f"items[{i}].image_uri", lim)
            for i, it in enumerate(items)
            if isinstance(it.image, Path)
        }
        wait = lim.read_timeout_s if timeout is None else min(lim.read_timeout_s, timeout)
        data: dict[int, bytes] = {}
        total_bytes = 0
        for i, it in enumerate(items):
            if i in reads:
                try:
                    data[i] = reads[i].result(timeout=wait)
                except futures.TimeoutError:
                    raise TimeoutError(
                        f"items[{i}].image_uri: not read within {wait:g} s"
                    ) from None
            elif isinstance(it.image, bytes | bytearray):
                data[i] = bytes(it.image)
            else:
                continue
            total_bytes += len(data[i])
            if total_bytes > lim.max_request_mb * MiB:
                raise Overloaded(
                    f"items[{i}].image: the request's images reach {total_bytes} bytes here, "
                    f"over the limit of {lim.max_request_mb:g} MB per request; split the batch"
                )
        checks = {
            i: self._pool.submit(check_image, blob, f"items[{i}].image", lim)
            for i, blob in data.items()
        }
        total_pixels = 0
        for i in sorted(checks):
            total_pixels += checks[i].result()
            if total_pixels > lim.max_request_megapixels * 1e6:
                for pending in checks.values():
                    pending.cancel()
                raise Overloaded(
                    f"items[{i}].image: the request's images reach {_megapixels(total_pixels)} "
                    f"here, over the limit of {lim.max_request_megapixels:g} megapixels per "
                    "request; split the batch"
                )
        return [replace(it, image=data[i]) if i in data else it for i, it in enumerate(items)]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
