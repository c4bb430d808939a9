"""Reading the words printed on an item's picture (OCR), for the ``rules`` backend on CPU.

A sibling product of one brand shares the brand's colours, layout and even keypoints; what
differs is the words on the package ("vanilla" vs "blueberry", "mellanmjölk" vs
"standardmjölk"). ``rapidocr`` reads them with PP-OCR detection and recognition ONNX models
that ship inside its wheel (nothing is downloaded), on ``onnxruntime``. It is an optional extra
(``pip install 'fitrep[ocr]'``): imported only when a reader is built.

Cost is bounded by construction: the picture is scaled so its longer side is ``det_side``
pixels (small shop photos are enlarged, so small print stays legible; large ones shrunk), no
angle classifier runs, and onnxruntime gets an explicit thread count. Results are cached per
image bytes (sha256) in memory and, by default, in a SQLite file beside the encoder's cache.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fitrep.domain import FitrepError, InvalidInput
from PIL import Image

from mllm_server.chie import image_features
from mllm_server.chie.kv_cache import KVCache, SqliteTable, user_cache_path

OCR_MODES = ("auto", "on", "off")
OCR_EXTRA_HINT = "--ocr on needs the [ocr] extra: pip install 'fitrep[ocr]' (rapidocr, onnxruntime)"
DET_SIDE = 736  # longer side (pixels) the text detector sees
_MODELS = "PP-OCRv6 small det+rec"  # what rapidocr 3.10 loads by default; part of the cache key
_BORDER = 0.01  # a box this close to an edge (share of the side) touches the border
ImageSource = bytes | Path | str
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class TextBox:
    """One line of text read from a picture. Coordinates are shares of the image's width
    (x) and height (y), in [0, 1]; ``height`` is the text's line height as a share of the
    image's shorter side (how large the print is, whatever the photo's aspect)."""

    text: str
    confidence: float
    x0: float
    y0: float
    x1: float
    y1: float
    height: float

    @property
    def centre_distance(self) -> float:
        """Distance of the box centre from the image centre: 0 at the centre, 1 at a corner."""
        dx = (self.x0 + self.x1) - 1.0
        dy = (self.y0 + self.y1) - 1.0
        return math.hypot(dx, dy) / math.sqrt(2.0)

    @property
    def touches_border(self) -> bool:
        """Text cut by the frame: a neighbour's package or a shelf edge, not the subject."""
        return min(self.x0, self.y0) < _BORDER or self.x1 > 1.0 - _BORDER or self.y1 > 1.0 - _BORDER

    def to_json(self) -> list[Any]:
        return [self.text, round(self.confidence, 4), *(round(v, 4) for v in self._geometry())]

    @classmethod
    def from_json(cls, row: Sequence[Any]) -> TextBox:
        text, conf, x0, y0, x1, y1, height = row
        return cls(str(text), float(conf), x0, y0, x1, y1, height)

    def _geometry(self) -> tuple[float, ...]:
        return (self.x0, self.y0, self.x1, self.y1, self.height)


def ocr_available() -> bool:
    """rapidocr and onnxruntime are importable (checked without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("rapidocr", "onnxruntime"))


def wants_ocr(mode: str | bool) -> bool:
    """Whether to build a reader for ``--ocr MODE``: ``auto`` = when the extra is installed,
    ``on`` = always (an error naming the extra when it is missing), ``off`` = never."""
    if isinstance(mode, bool):
        mode = "on" if mode else "off"
    if mode not in OCR_MODES:
        raise InvalidInput("ocr", f"unknown mode {mode!r}; choose one of {', '.join(OCR_MODES)}")
    if mode == "on" and not ocr_available():
        raise FitrepError(OCR_EXTRA_HINT)
    return mode == "on" or (mode == "auto" and ocr_available())


def default_cache_path() -> Path | None:
    """``$FITREP_OCR_CACHE`` ("" turns the disk cache off), else the user cache dir."""
    return user_cache_path("FITREP_OCR_CACHE", "ocr-cache.sqlite")


def _open_disk_cache(path: Path) -> SqliteTable:
    """Boxes on disk: key = sha256(reader settings, image bytes), value = JSON rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteTable(
        path,
        "ocr",
        "key BLOB PRIMARY KEY, boxes TEXT NOT NULL",
        keys=["key"],
        value="boxes",
        timeout=10,
        synchronous="NORMAL",
    )


def _dump(boxes: list[TextBox]) -> str:
    return json.dumps([b.to_json() for b in boxes], ensure_ascii=False)


def _load(raw: str) -> list[TextBox] | None:
    try:
        return [TextBox.from_json(row) for row in json.loads(raw)]
    except (ValueError, TypeError):
        return None  # a damaged row is read again, never an error


def _image_bytes(image: ImageSource) -> bytes | None:
    if isinstance(image, bytes | bytearray):
        return bytes(image)
    try:
        return Path(image).read_bytes()
    except OSError:
        return None


def boxes_from_quads(
    quads: Sequence[Sequence[Sequence[float]]],
    texts: Sequence[str],
    scores: Sequence[float],
    width: int,
    height: int,
) -> list[TextBox]:
    """TextBoxes from the detector's quadrilaterals (4 corner points in pixels of a
    ``width`` x ``height`` image) and the recogniser's texts and confidences."""
    short = float(max(min(width, height), 1))
    out = []
    for quad, text, score in zip(quads, texts, scores, strict=True):
        if not str(text).strip():
            continue
        xs = [float(p[0]) for p in quad]
        ys = [float(p[1]) for p in quad]
        side_a = math.dist(quad[0], quad[1])
        side_b = math.dist(quad[1], quad[2])
        out.append(
            TextBox(
                text=str(text).strip(),
                confidence=float(score),
                x0=min(max(min(xs) / width, 0.0), 1.0),
                y0=min(max(min(ys) / height, 0.0), 1.0),
                x1=min(max(max(xs) / width, 0.0), 1.0),
                y1=min(max(max(ys) / height, 0.0), 1.0),
                height=min(side_a, side_b) / short,
            )
        )
    return out


class PackageReader:
    """Text boxes of pictures, cached per image bytes; the OCR engine loads on first use.

    ``det_side``: the longer side (pixels) the detector sees; ``threads``: onnxruntime
    intra-op threads (default: the cores, at most 4); ``disk_cache``: a SQLite path, None for
    none, or "default" (``default_cache_path()``).
    """

    def __init__(
        self,
        det_side: int = DET_SIDE,
        threads: int | None = None,
        cache_size: int = 100_000,
        disk_cache: Path | str | None = "default",
    ) -> None:
        if det_side < 64:
            raise InvalidInput("ocr_det_side", f"must be at least 64 pixels, got {det_side}")
        self.det_side = det_side
        self.threads = threads if threads is not None else min(os.cpu_count() or 1, 4)
        if self.threads < 1:
            raise InvalidInput("ocr_threads", f"must be at least 1, got {self.threads}")
        self.signature = f"{_MODELS} side={det_side} cls=off"
        if disk_cache == "default":
            disk_cache = default_cache_path()
        table = None
        if disk_cache is not None:
            try:
                table = _open_disk_cache(Path(disk_cache))
            except (sqlite3.Error, OSError):
                table = None
        self._cache: KVCache[bytes, list[TextBox]] = KVCache(
            cache_size, table, table_key=lambda k: (k,), dump=_dump, load=_load, best_effort=True
        )
        self._engine: Any = None
        self._lock = threading.Lock()
        self.images_read = 0

    @property
    def cache_hits(self) -> int:
        return self._cache.hits + self._cache.table_hits

    def _key(self, data: bytes) -> bytes:
        return hashlib.sha256(self.signature.encode() + b"\0" + data).digest()

    def read(self, image: ImageSource) -> list[TextBox]:
        return self.read_many([image])[0]

    def read_many(
        self, images: Sequence[ImageSource], progress: ProgressFn | None = None
    ) -> list[list[TextBox]]:
        """Boxes of each image, same order ([] for one that cannot be read). ``progress(done,
        total)`` is called after each image the engine reads, and once at the end (cache hits
        count at once)."""
        data = [_image_bytes(img) for img in images]
        keys = [self._key(d) if d is not None else b"" for d in data]
        found = self._cache.get_many([k for k in dict.fromkeys(keys) if k])
        todo = [i for i, k in enumerate(keys) if k and k not in found]
        unique_todo = list({keys[i]: i for i in todo}.values())
        done = len(images) - len(todo)
        if progress and unique_todo:
            progress(done, len(images))
        for i in unique_todo:
            raw = data[i]
            boxes = self._recognise(raw) if raw is not None else []
            self._cache.put(keys[i], boxes)
            found[keys[i]] = boxes
            done += sum(1 for j in todo if keys[j] == keys[i])
            if progress and done < len(images):
                progress(done, len(images))
        if progress and images:
            progress(len(images), len(images))
        return [found.get(k, []) if k else [] for k in keys]

    def _recognise(self, data: bytes) -> list[TextBox]:
        img = image_features.load(data)
        if img is None:
            return []
        scale = self.det_side / max(img.size)
        size = (max(round(img.width * scale), 1), max(round(img.height * scale), 1))
        img = img.resize(size, Image.Resampling.BICUBIC)
        result = self._load()(img)
        self.images_read += 1
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        return boxes_from_quads(result.boxes.tolist(), result.txts, result.scores, *img.size)

    def _load(self) -> Any:
        with self._lock:
            if self._engine is None:
                try:
                    import onnxruntime
                    from rapidocr import RapidOCR
                except ImportError:
                    raise FitrepError(OCR_EXTRA_HINT) from None
                onnxruntime.set_default_logger_severity(3)  # its warnings are not ours to show
                self._engine = RapidOCR(
                    params={
                        "Global.use_cls": False,
                        "Global.log_level": "error",
                        "Global.max_side_len": self.det_side,
                        "Det.limit_type": "max",
                        "Det.limit_side_len": self.det_side,
                        "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
                        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                    }
                )
        return self._engine

    def close(self) -> None:
        self._cache.close()
