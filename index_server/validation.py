"""A batch is checked whole before the engine touches anything.

What the index reads later must be sound now: a vector that cannot be normalised, or image
arrays the verifier cannot compare, would fail a later, innocent item's decision (and every
one after it, since a stored row is compared again and again). So every item is checked
here and the first fault is an ``InvalidInput`` naming its field, e.g.
``items[3].embeddings.PRIMARY: not finite``. Vectors of another layout or encoder than the
index holds are well formed but refused by its state: ``FailedPrecondition``.

Image features are the arrays ``mllm_server.chie.image_features.compute`` produces and
``index_server.scoring.image`` reads: ``phash`` (8 uint8, a packed 64-bit hash) and
``hsv_hist`` (128 float32) always together, ``global`` (float32 vector, optional), and
``sift_xy`` (n x 2 float32) with ``sift_desc`` (n x 128 uint8, RootSIFT), both or neither,
and ``package_grams`` (256 float16, the OCR text's hashed character grams, optional).
"""

from __future__ import annotations

from collections.abc import Container, Mapping, Sequence

import numpy as np
from fitrep.domain import EmbeddedItem, FailedPrecondition, InvalidInput, Level

from index_server.integration import LevelLayout

# key -> (dtype, shape with None for "any length")
IMAGE_ARRAYS: dict[str, tuple[np.dtype, tuple[int | None, ...]]] = {
    "phash": (np.dtype(np.uint8), (8,)),
    "hsv_hist": (np.dtype(np.float32), (128,)),
    "global": (np.dtype(np.float32), (None,)),
    "sift_xy": (np.dtype(np.float32), (None, 2)),
    "sift_desc": (np.dtype(np.uint8), (None, 128)),
    "package_grams": (np.dtype(np.float16), (256,)),
}
_CORE = ("phash", "hsv_hist")
_LOCAL = ("sift_xy", "sift_desc")


def check_vector(vector: np.ndarray, where: str) -> None:
    """A level vector the index can normalise: 1-d float, finite, non-zero finite norm."""
    v = np.asarray(vector)
    if v.ndim != 1 or v.size == 0:
        raise InvalidInput(where, f"must be a non-empty 1-d vector, got shape {v.shape}")
    if v.dtype.kind != "f":
        raise InvalidInput(where, f"must be floating point, got {v.dtype}")
    v = v.astype(np.float32)
    if not np.isfinite(v).all():
        raise InvalidInput(where, "not finite (NaN or infinity)")
    with np.errstate(over="ignore"):  # float32, as ``integration.concatenate`` computes it
        norm = float(np.linalg.norm(v))
    if norm == 0.0:
        raise InvalidInput(where, "all zeros: an absent level has no vector")
    if not np.isfinite(norm) or not np.isfinite(v / norm).all():
        raise InvalidInput(where, f"its norm ({norm}) cannot be normalised")


# items whose vectors are checked together (``_sound``): a few MB of float32 at a time
_BLOCK = 4096


def _sound(vectors: Sequence[object]) -> np.ndarray:
    """(n,) bool: which of ``vectors`` ``check_vector`` would pass, checked as stacked arrays
    (one vector at a time, the checks cost ~20 us each: 10 s for 100k six-level items). False
    is only "not known": such a vector is checked alone, which names its fault."""
    out = np.zeros(len(vectors), bool)
    groups: dict[tuple[int, str], list[int]] = {}
    for i, v in enumerate(vectors):
        if isinstance(v, np.ndarray) and v.ndim == 1 and v.size and v.dtype.kind == "f":
            groups.setdefault((v.size, v.dtype.str), []).append(i)
    for members in groups.values():
        for start in range(0, len(members), _BLOCK):
            part = members[start : start + _BLOCK]
            x = np.stack([np.asarray(vectors[i]) for i in part]).astype(np.float32)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                norm = np.linalg.norm(x, axis=1)
                ok = np.isfinite(x).all(axis=1) & (norm > 0) & np.isfinite(norm)
                ok &= np.isfinite(x / np.where(ok, norm, 1.0)[:, None]).all(axis=1)
            out[part] = ok
    return out


def check_image_features(features: Mapping[str, np.ndarray], where: str) -> None:
    if not features:
        return
    unknown = sorted(set(features) - set(IMAGE_ARRAYS))
    if unknown:
        raise InvalidInput(
            f"{where}[{unknown[0]}]", f"unknown image feature (known: {', '.join(IMAGE_ARRAYS)})"
        )
    for key in (*_CORE, *_LOCAL):
        group = _CORE if key in _CORE else _LOCAL
        if key not in features and any(k in features for k in group):
            given = next(k for k in group if k in features)
            raise InvalidInput(f"{where}[{key}]", f"missing: {given} needs {' and '.join(group)}")
    if any(k in features for k in ("global", "package_grams", *_LOCAL)) and "phash" not in features:
        raise InvalidInput(f"{where}[phash]", "missing: image features need phash and hsv_hist")
    for key, arr in features.items():
        dtype, shape = IMAGE_ARRAYS[key]
        a = np.asarray(arr)
        if a.dtype != dtype:
            raise InvalidInput(f"{where}[{key}]", f"dtype {a.dtype}, expected {dtype}")
        if a.ndim != len(shape) or any(
            s is not None and s != d for s, d in zip(shape, a.shape, strict=True)
        ):
            want = "x".join("n" if s is None else str(s) for s in shape)
            raise InvalidInput(f"{where}[{key}]", f"shape {list(a.shape)}, expected {want}")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise InvalidInput(f"{where}[{key}]", "not finite (NaN or infinity)")
    if _LOCAL[0] in features and len(features["sift_xy"]) != len(features["sift_desc"]):
        raise InvalidInput(
            f"{where}[sift_xy]",
            f"{len(features['sift_xy'])} keypoints but {len(features['sift_desc'])} descriptors",
        )


def check_batch(
    items: Sequence[EmbeddedItem],
    layout: LevelLayout | None,
    encoder: str,
    deleted: Container[str] = (),
) -> None:
    """Every item of the batch, before anything is stored. ``layout`` / ``encoder``: what the
    index holds (None / "" while it is empty); ``deleted``: ids of deleted items."""
    dims = dict(layout.dims) if layout is not None else {}
    batch_encoder = ""
    vectors = [v for item in items for v in item.embeddings.vectors.values()]
    sound = iter(_sound(vectors).tolist())
    for i, item in enumerate(items):
        at = f"items[{i}]"
        if not item.item_id:
            raise InvalidInput(f"{at}.concepts.item_id", "must not be empty")
        if item.item_id in deleted:
            raise FailedPrecondition(
                at, f"item {item.item_id} was deleted; give it a new id to store it again"
            )
        if not item.embeddings.vectors:
            raise InvalidInput(f"{at}.embeddings.vectors", "no level vector given")
        for level, vector in item.embeddings.vectors.items():
            known_sound = next(sound)
            if layout is not None and np.shape(vector) != (dims.get(level, -1),):
                held = ", ".join(f"{lv.name}={d}" for lv, d in layout.dims)
                raise FailedPrecondition(
                    f"{at}.embeddings.{Level(level).name}",
                    f"a {np.asarray(vector).size}-d {Level(level).name} vector, but this index"
                    f" holds {held} ({encoder or 'encoder not recorded'})",
                )
            if not known_sound:
                check_vector(vector, f"{at}.embeddings.{Level(level).name}")
        check_image_features(item.concepts.image_features, f"{at}.concepts.image_features")
        enc = item.embeddings.encoder
        if enc and encoder and enc != encoder:
            raise FailedPrecondition(
                f"{at}.embeddings.encoder",
                f"vectors from encoder {enc!r}, but this index holds vectors from {encoder!r}",
            )
        if enc and not encoder:
            if batch_encoder and enc != batch_encoder:
                raise InvalidInput(
                    f"{at}.embeddings.encoder",
                    f"{enc!r} differs from earlier items of the batch ({batch_encoder!r})",
                )
            batch_encoder = enc
