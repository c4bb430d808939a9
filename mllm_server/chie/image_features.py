"""Pre-attentive image features from pixels: perceptual hash, colour histogram, and a
global descriptor that serves as the VISUAL level's vector.

Why not a CNN: the CPU default must run everywhere without model downloads; these features
are cheap, deterministic and good enough for candidate retrieval of re-encodes, crops and
colour shifts. Identity between photos is decided by the verifier, not by this vector.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

_THUMB = 16
_HIST_BINS = (8, 4, 4)  # hue, saturation, value
_NAMED_HUES = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"]


def load(image: bytes | Path | str) -> Image.Image | None:
    """Open ``image`` (bytes or a path) as RGB; None when it is not a readable image."""
    try:
        source = io.BytesIO(image) if isinstance(image, bytes | bytearray) else Path(image)
        with Image.open(source) as opened:
            img = ImageOps.exif_transpose(opened)
            return img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def compute(image: bytes | Path | str) -> dict[str, np.ndarray]:
    """Feature arrays of one image; empty dict when the image cannot be read."""
    img = load(image)
    if img is None:
        return {}
    import imagehash

    small = img.copy()
    small.thumbnail((256, 256))
    phash = imagehash.phash(small)
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3)
    hist, _ = np.histogramdd(hsv, bins=_HIST_BINS, range=((0, 256), (0, 256), (0, 256)))
    hist = hist.ravel().astype(np.float32)
    hist /= max(hist.sum(), 1.0)
    gray = np.asarray(small.convert("L").resize((_THUMB, _THUMB)), dtype=np.float32).ravel()
    gray = (gray - gray.mean()) / (gray.std() + 1e-6)
    descriptor = np.concatenate([np.sqrt(hist) * 4.0, gray / np.sqrt(gray.size)])
    descriptor /= np.linalg.norm(descriptor) + 1e-12
    return {
        "phash": np.packbits(phash.hash.ravel()).astype(np.uint8),
        "hsv_hist": hist,
        "global": descriptor.astype(np.float32),
        **local_features(img),
    }


_LOCAL_SIDE = 400  # pixels of the longer side the keypoints are found at
_MAX_KEYPOINTS = 400  # bounds what is stored per image: 400 x (128 + 8) bytes
# RootSIFT components lie in [0, 1] and stay below ~0.35 in practice: this scale keeps them in
# a byte with a step of 0.002 (the ratio test and RANSAC do not notice).
DESCRIPTOR_SCALE = 512.0


def local_features(img: Image.Image) -> dict[str, np.ndarray]:
    """SIFT keypoints with RootSIFT descriptors (positions in pixels of the picture scaled to
    ``_LOCAL_SIDE``, descriptors as bytes: see ``root_sift``) for geometric verification of
    candidate pairs (``index_server.scoring.image``); empty when OpenCV is missing or too
    few are found. SIFT, unlike ORB, matches print seen at another scale or slant, and the
    Hellinger kernel (RootSIFT) keeps one strong gradient bin from deciding a match."""
    try:
        import cv2
    except ImportError:
        return {}
    gray = img.convert("L")
    scale = _LOCAL_SIDE / max(gray.size)
    gray = gray.resize(
        (max(round(gray.width * scale), 1), max(round(gray.height * scale), 1)),
        Image.Resampling.BICUBIC,
    )
    sift = cv2.SIFT_create(nfeatures=_MAX_KEYPOINTS)  # type: ignore[attr-defined]
    keypoints, descriptors = sift.detectAndCompute(np.asarray(gray), None)
    if descriptors is None or len(keypoints) < 8:
        return {}
    # OpenCV may return a few more than asked for (ties at the cut-off response).
    keypoints, descriptors = keypoints[:_MAX_KEYPOINTS], descriptors[:_MAX_KEYPOINTS]
    xy = np.array([kp.pt for kp in keypoints], np.float32)
    return {"sift_xy": xy, "sift_desc": root_sift(descriptors)}


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """(n, 128) SIFT -> RootSIFT as uint8: L1-normalise, square root (unit L2 norm, so
    Euclidean distance compares them by the Hellinger kernel), times ``DESCRIPTOR_SCALE``."""
    d = np.asarray(descriptors, np.float32)
    d = np.sqrt(d / (d.sum(axis=1, keepdims=True) + 1e-7))
    return np.clip(np.rint(d * DESCRIPTOR_SCALE), 0, 255).astype(np.uint8)


def describe(features: dict[str, np.ndarray]) -> list[str]:
    """Readable VISUAL concepts (dominant colours) for explanations and the report."""
    hist = features["hsv_hist"].reshape(_HIST_BINS)
    by_hue = hist[:, 1:, 1:].sum(axis=(1, 2))  # saturated, not dark
    dark = hist[:, :, 0].sum()
    pale = hist[:, 0, 1:].sum()
    names = []
    for idx in np.argsort(by_hue)[::-1][:2]:
        if by_hue[idx] > 0.1:
            names.append(_NAMED_HUES[int(idx)])
    if dark > 0.3:
        names.append("dark")
    if pale > 0.3:
        names.append("pale")
    return [f"colours: {', '.join(names) or 'mixed'}"]


def phash_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """1 - normalised Hamming distance of two packed 64-bit perceptual hashes."""
    bits = np.unpackbits(np.bitwise_xor(a, b)).sum()
    return 1.0 - float(bits) / (8 * len(a))
