"""Pairwise image evidence for the verifier, computed only for retrieved candidates.

Inputs are the arrays CHIE stored in ``ConceptSet.image_features``. Features are 0 when
either side has no image, with ``image_both`` saying whether they apply.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ImageFeatures = Mapping[str, np.ndarray]
IMAGE_FEATURES = ("image_both", "phash_sim", "hist_sim")


def image_pair_features(a: ImageFeatures | None, b: ImageFeatures | None) -> dict[str, float]:
    out = dict.fromkeys(IMAGE_FEATURES, 0.0)
    if not a or not b or "phash" not in a or "phash" not in b:
        return out
    out["image_both"] = 1.0
    bits = np.unpackbits(np.bitwise_xor(a["phash"], b["phash"])).sum()
    out["phash_sim"] = 1.0 - float(bits) / (8 * len(a["phash"]))
    out["hist_sim"] = float(np.minimum(a["hsv_hist"], b["hsv_hist"]).sum())
    return out
