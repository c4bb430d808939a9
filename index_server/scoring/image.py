"""Pairwise image evidence for the verifier, computed only for retrieved candidates.

Inputs are the arrays CHIE stored in ``ConceptSet.image_features``. Features are 0 when
either side has no image, with ``image_both`` saying whether they apply.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ImageFeatures = Mapping[str, np.ndarray]
IMAGE_FEATURES = ("image_both", "phash_sim", "hist_sim", "orb_inliers")
_RATIO = 0.8  # Lowe's ratio test
_MIN_MATCHES = 8
_FULL_INLIERS = 40  # this many RANSAC inliers counts as full agreement


def image_pair_features(a: ImageFeatures | None, b: ImageFeatures | None) -> dict[str, float]:
    out = dict.fromkeys(IMAGE_FEATURES, 0.0)
    if not a or not b or "phash" not in a or "phash" not in b:
        return out
    out["image_both"] = 1.0
    bits = np.unpackbits(np.bitwise_xor(a["phash"], b["phash"])).sum()
    out["phash_sim"] = 1.0 - float(bits) / (8 * len(a["phash"]))
    out["hist_sim"] = float(np.minimum(a["hsv_hist"], b["hsv_hist"]).sum())
    out["orb_inliers"] = min(geometric_inliers(a, b), _FULL_INLIERS) / _FULL_INLIERS
    return out


def geometric_inliers(a: ImageFeatures, b: ImageFeatures) -> int:
    """ORB matches (ratio test) that one homography explains (RANSAC): the same flat
    package seen twice agrees geometrically; shared colours or a busy shelf rarely do."""
    if "orb_desc" not in a or "orb_desc" not in b:
        return 0
    import cv2

    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = matcher.knnMatch(a["orb_desc"], b["orb_desc"], k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < _RATIO * m[1].distance]
    if len(good) < _MIN_MATCHES:
        return 0
    src = a["orb_xy"][[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = b["orb_xy"][[m.trainIdx for m in good]].reshape(-1, 1, 2)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
    return int(mask.sum()) if mask is not None else 0
