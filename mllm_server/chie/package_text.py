"""Which words read off a picture name the item, and which are the shelf around it.

A shop photo holds the package (large, central, clearly printed: brand, product name,
variant) and its surroundings (price labels, neighbours' packages cut by the frame, small
print). The package's words are the item's PRIMARY concepts, as a title's are; the rest is
AUXILIARY context at most. Plain functions over ``ocr.TextBox``: testable without an OCR model.
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mllm_server.chie.ocr import TextBox

MIN_CONFIDENCE = 0.6  # below: recogniser guesses ("Rch w plert piotes"), dropped
PRIMARY_CONFIDENCE = 0.9
# Large = at least this share of the tallest wordy line in the picture, and at least
# PRIMARY_MIN_HEIGHT of the image's shorter side.
PRIMARY_RELATIVE_HEIGHT = 0.25
PRIMARY_MIN_HEIGHT = 0.025
PRIMARY_MAX_CENTRE_DISTANCE = 0.75  # 0 = centre, 1 = corner
MAX_PRIMARY_LINES = 4
MAX_AUXILIARY_LINES = 12
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)
GRAM_DIM = 256  # hashed character 3- and 4-grams of the primary package text


class Role(enum.Enum):
    PRIMARY = "primary"
    AUXILIARY = "auxiliary"
    DROPPED = "dropped"


@dataclass(frozen=True)
class PackageText:
    """The words of a picture by role: ``primary`` reads like a title, ``auxiliary`` is
    context (both "" when nothing qualifies)."""

    primary: str = ""
    auxiliary: str = ""

    def image_features(self) -> dict[str, np.ndarray]:
        """``package_grams``: the primary text's character 3/4-grams, hashed into GRAM_DIM
        bins, unit length, float16; {} without primary text. Compared by the verifier's image
        channel (``package_text_sim``): a misread letter ("Tropicana" / "fropicana") costs a
        few grams, not the whole word, so it measures OCR text the way title words cannot."""
        words = _WORD.findall(self.primary.casefold())
        if not words:
            return {}
        grams = np.zeros(GRAM_DIM, np.float32)
        for word in words:
            padded = f" {word} "
            for n in (3, 4):
                for i in range(len(padded) - n + 1):
                    grams[zlib.crc32(padded[i : i + n].encode()) % GRAM_DIM] += 1.0
        grams /= np.linalg.norm(grams)
        return {"package_grams": grams.astype(np.float16)}


def letters(text: str) -> int:
    return len(_LETTER.findall(text))


def roles(boxes: Sequence[TextBox]) -> list[Role]:
    """The role of each box, same order.

    Dropped: unsure readings and text with fewer than two letters (prices, shelf numbers,
    stray marks). Primary: confident, large relative to the largest wordy text of the
    picture, away from the border and the corners. Everything else (small print, shelf
    labels, a neighbour's package cut by the frame): auxiliary.
    """
    wordy = [b for b in boxes if b.confidence >= MIN_CONFIDENCE and letters(b.text) >= 2]
    tallest = max((b.height for b in wordy), default=0.0)
    out = []
    for box in boxes:
        if box.confidence < MIN_CONFIDENCE or letters(box.text) < 2:
            out.append(Role.DROPPED)
        elif (
            box.confidence >= PRIMARY_CONFIDENCE
            and box.height >= max(PRIMARY_RELATIVE_HEIGHT * tallest, PRIMARY_MIN_HEIGHT)
            and box.centre_distance <= PRIMARY_MAX_CENTRE_DISTANCE
            and not box.touches_border
        ):
            out.append(Role.PRIMARY)
        else:
            out.append(Role.AUXILIARY)
    return out


def _join(boxes: Sequence[TextBox], limit: int) -> str:
    """Texts of ``boxes``, largest print first (brand and product name lead, as in a title),
    each once: a shelf of one product repeats its name, and a line read in part elsewhere
    ("alpr" beside "alpro") is a fragment of it, not a word of its own."""
    keys = {b.text.casefold() for b in boxes}
    seen: set[str] = set()
    parts = []
    for box in sorted(boxes, key=lambda b: -b.height):
        key = box.text.casefold()
        if key in seen or any(key in other and key != other for other in keys):
            continue
        seen.add(key)
        parts.append(box.text)
    return " ".join(parts[:limit])


def package_text(boxes: Sequence[TextBox]) -> PackageText:
    """PRIMARY and AUXILIARY text of one picture's boxes (see ``roles``)."""
    assigned = list(zip(boxes, roles(boxes), strict=True))
    return PackageText(
        primary=_join([b for b, r in assigned if r is Role.PRIMARY], MAX_PRIMARY_LINES),
        auxiliary=_join([b for b, r in assigned if r is Role.AUXILIARY], MAX_AUXILIARY_LINES),
    )
