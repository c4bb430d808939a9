"""Pairwise image evidence for the scorer, computed only for retrieved candidates.

Inputs are the arrays CHIE stored in ``ConceptSet.image_features``. Features are 0 when
either side has no image, with ``image_both`` saying whether they apply.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ImageFeatures = Mapping[str, np.ndarray]
IMAGE_FEATURES = (
    "image_both",
    "phash_sim",
    "hist_sim",
    "sift_inliers",
    "sift_inlier_area",
    "package_text_both",
    "package_text_sim",
)
_RATIO = 0.8  # Lowe's ratio test
_MIN_MATCHES = 8
_FULL_INLIERS = 40  # this many RANSAC inliers counts as full agreement
_REPROJECTION_PX = 5.0  # RANSAC inlier distance, pixels of the keypoint image (400 px side)


def image_pair_features(a: ImageFeatures | None, b: ImageFeatures | None) -> dict[str, float]:
    """Each feature in [0, 1] (the chunk bound in ``bounds.py`` relies on that range)."""
    out = dict.fromkeys(IMAGE_FEATURES, 0.0)
    if not a or not b or "phash" not in a or "phash" not in b:
        return out
    out["image_both"] = 1.0
    bits = np.unpackbits(np.bitwise_xor(a["phash"], b["phash"])).sum()
    out["phash_sim"] = 1.0 - float(bits) / (8 * len(a["phash"]))
    out["hist_sim"] = float(np.minimum(a["hsv_hist"], b["hsv_hist"]).sum())
    inliers, area = geometric_match(a, b)
    out["sift_inliers"] = min(inliers, _FULL_INLIERS) / _FULL_INLIERS
    out["sift_inlier_area"] = area
    # Words read off both packages (OCR): their own agreement, and a flag that lets the
    # calibration weigh read photos apart from unread ones (OCR text is noisier than titles).
    if "package_grams" in a and "package_grams" in b:
        out["package_text_both"] = 1.0
        cos = float(a["package_grams"].astype(np.float32) @ b["package_grams"].astype(np.float32))
        out["package_text_sim"] = min(max(cos, 0.0), 1.0)
    return out


def geometric_match(a: ImageFeatures, b: ImageFeatures) -> tuple[int, float]:
    """(inliers, inlier area) of the RootSIFT matches (ratio test) that one homography
    explains (RANSAC): the same flat package seen twice agrees geometrically; shared colours
    or a busy shelf rarely do. The area is the convex hull of the inliers as a share of the
    hull of all the image's keypoints (its textured part), the smaller of the two sides: a
    whole package that agrees covers much of it, a brand logo that sibling products share
    covers little."""
    if "sift_desc" not in a or "sift_desc" not in b:
        return 0, 0.0
    import cv2

    matcher = cv2.BFMatcher(cv2.NORM_L2)
    knn = matcher.knnMatch(
        a["sift_desc"].astype(np.float32), b["sift_desc"].astype(np.float32), k=2
    )
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < _RATIO * m[1].distance]
    if len(good) < _MIN_MATCHES:
        return 0, 0.0
    src = a["sift_xy"][[m.queryIdx for m in good]].astype(np.float32)
    dst = b["sift_xy"][[m.trainIdx for m in good]].astype(np.float32)
    _, mask = cv2.findHomography(src, dst, cv2.RANSAC, _REPROJECTION_PX)
    if mask is None:
        return 0, 0.0
    keep = mask.ravel().astype(bool)
    inliers = int(keep.sum())
    if inliers < 3:
        return inliers, 0.0
    area = min(
        _hull_area(src[keep]) / max(_hull_area(a["sift_xy"]), 1.0),
        _hull_area(dst[keep]) / max(_hull_area(b["sift_xy"]), 1.0),
    )
    return inliers, min(area, 1.0)


def _hull_area(points: np.ndarray) -> float:
    import cv2

    return float(cv2.contourArea(cv2.convexHull(np.asarray(points, np.float32))))
