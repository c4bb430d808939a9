"""Images from requests: image_uri off by default, regular files under the root only, byte
and pixel limits per image and per request, corrupt images refused (never dropped)."""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from fitrep.domain import InvalidInput, Item, Overloaded
from PIL import Image

from mllm_server.images import ImageIntake, ImageLimits, check_image


def png(width: int = 8, height: int = 8, colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def corrupt_png() -> bytes:
    """A noisy PNG cut in half: the header reads, the pixels do not."""
    buf = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buf, "PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat = zlib.compress(b"\0" * 64)
    idat_chunk = b"IDAT" + idat
    body += struct.pack(">I", len(idat)) + idat_chunk + struct.pack(">I", zlib.crc32(idat_chunk))
    return b"\x89PNG\r\n\x1a\n" + body


def test_header_beyond_pil_bomb_limit_is_invalid_argument_not_internal() -> None:
    with pytest.raises(InvalidInput) as err:
        check_image(png_header(20000, 20000), "items[3].image", ImageLimits())
    assert str(err.value) == "items[3].image: 400 megapixels exceeds the limit of 40 megapixels"


def test_large_image_refused_from_its_header_before_decoding() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as err:
        check_image(png_header(12000, 12000), "items[0].image", ImageLimits())
    assert "12000x12000 pixels exceeds the limit of 40 megapixels" in str(err.value)
    assert time.perf_counter() - started < 0.5  # the pixels (~430 MB) were never allocated


def test_corrupt_and_unknown_images_name_the_item() -> None:
    intake = ImageIntake()
    truncated = corrupt_png()
    with pytest.raises(InvalidInput, match=r"^items\[1\]\.image: corrupt image"):
        intake.admit([Item("a", "ok", image=png()), Item("b", image=truncated)])
    with pytest.raises(InvalidInput, match=r"^items\[0\]\.image: not an image"):
        intake.admit([Item("a", image=b"not an image at all")])


def test_image_uri_is_refused_without_an_image_root(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(png())
    with pytest.raises(InvalidInput, match=r"^items\[0\]\.image_uri: this server does not"):
        ImageIntake().admit([Item("a", image=tmp_path / "a.png")])


def test_image_uri_reads_regular_files_under_the_root_only(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (root / "a.png").write_bytes(png())
    (outside / "b.png").write_bytes(png())
    (root / "link.png").symlink_to(outside / "b.png")
    os.mkfifo(root / "fifo.png")
    intake = ImageIntake(ImageLimits(root=root))
    [item] = intake.admit([Item("a", image=Path("a.png"))])
    assert item.image == png()
    for name, why in (
        (outside / "b.png", "outside the image root"),
        (Path("link.png"), "outside the image root"),
        (Path("../secret/b.png"), "outside the image root"),
        (Path("missing.png"), "No such file"),
    ):
        with pytest.raises(InvalidInput, match=why):
            intake.admit([Item("a", image=name)])
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="not a regular file"):  # a FIFO used to hang
        intake.admit([Item("a", image=Path("fifo.png"))])
    assert time.perf_counter() - started < 1.0


def test_byte_and_pixel_limits_per_image_and_per_request() -> None:
    limits = ImageLimits(
        max_image_mb=0.001, max_request_megapixels=0.01, max_request_mb=1.0, workers=1
    )
    big = png(64, 64, "white") + b"\0" * 2000  # trailing bytes: still a valid PNG
    with pytest.raises(InvalidInput, match=r"^items\[0\]\.image: \d+ bytes exceeds the limit"):
        ImageIntake(limits).admit([Item("a", image=big)])
    limits = ImageLimits(max_request_megapixels=0.01)  # 10,000 pixels per request
    items = [Item(f"i{n}", image=png(60, 60)) for n in range(3)]  # 3,600 pixels each
    with pytest.raises(Overloaded, match=r"^items\[2\]\.image: the request's images reach"):
        ImageIntake(limits).admit(items)
