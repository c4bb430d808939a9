"""Ditto pair parsing, the calibration fit, and the lexical verifier features."""

import numpy as np
import pytest
from fitrep.ditto import parse_side, read_pairs
from fitrep.domain import Anchors

from index_server.scoring import features
from index_server.scoring.calibration_fit import best_f1_threshold, fit_calibration
from index_server.scoring.token_features import TokenStats


def anchor_features(a, b, stats=None):
    """The features of two anchor sets written in their JSON form."""
    return features.anchor_features(Anchors.from_json(a), Anchors.from_json(b), stats)


def test_parse_side_maps_first_column_to_title_and_description_to_text():
    item = parse_side(
        "COL name VAL sony dsc-w120 camera COL description VAL 7mp compact COL price VAL 99.0", "x"
    )
    assert item.title == "sony dsc-w120 camera"
    assert item.text == "7mp compact"
    assert item.attributes == {"price": "99.0"}


def test_parse_side_empty_values_and_other_first_column():
    item = parse_side("COL title VAL office 2007 COL manufacturer VAL  COL price VAL ", "y")
    assert item.title == "office 2007" and item.text == "" and item.attributes == {}


def test_read_pairs_interns_sides_and_keeps_order(tmp_path):
    a = "COL name VAL a1 COL price VAL 1"
    b = "COL name VAL b2 COL price VAL 2"
    path = tmp_path / "pairs.txt"
    path.write_text(f"{a}\t{b}\t1\n{b}\t{a}\t0\n{a}\t{a}\n")
    pf = read_pairs(path)
    assert len(pf.items) == 2
    assert pf.pairs == [(0, 1), (1, 0), (0, 0)]
    assert pf.labels == [1, 0, None]


def test_best_f1_threshold_separates_a_clean_split():
    p = np.array([0.9, 0.8, 0.3, 0.2])
    y = np.array([1, 1, 0, 0])
    thr, f1 = best_f1_threshold(p, y)
    assert f1 == 1.0 and 0.3 < thr <= 0.8


def test_fit_calibration_learns_signs_and_weights():
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for _ in range(200):
        dup = int(rng.random() < 0.3)
        rows.append(
            {
                "cos_primary": float(rng.normal(0.8 if dup else 0.4, 0.1)),
                "cos_auxiliary": float(rng.normal(0.5, 0.1)),
                "code_conflict": float(not dup and rng.random() < 0.5),
                "weighted_cos": 0.0,
            }
        )
        labels.append(dup)
    cal = fit_calibration(rows, labels, folds=3)
    assert cal.model.coef["cos_primary"] > 0 and cal.model.coef["code_conflict"] < 0
    assert "weighted_cos" not in cal.model.coef
    assert abs(sum(cal.weights.values()) - 1.0) < 1e-6
    assert max(cal.weights, key=lambda lv: cal.weights[lv]).name == "PRIMARY"
    assert 0.0 < cal.threshold < 1.0


def test_visual_keeps_a_retrieval_weight_when_other_image_evidence_wins_the_fit():
    from fitrep.domain import Level

    from index_server.scoring.calibration_fit import MIN_VISUAL_WEIGHT

    rng = np.random.default_rng(1)
    rows, labels = [], []
    for _ in range(300):
        dup = int(rng.random() < 0.3)
        rows.append(
            {
                "cos_primary": float(rng.normal(0.8 if dup else 0.4, 0.1)),
                "cos_visual": float(rng.normal(0.6 if dup else 0.7, 0.1)),  # a shelf alike
                "sift_inliers": float(rng.normal(0.6 if dup else 0.1, 0.1)),
            }
        )
        labels.append(dup)
    cal = fit_calibration(rows, labels, folds=3)
    assert cal.model.coef.get("cos_visual", 0.0) < 0
    assert cal.weights[Level.VISUAL] == pytest.approx(MIN_VISUAL_WEIGHT, abs=1e-6)
    assert abs(sum(cal.weights.values()) - 1.0) < 1e-6


def test_idf_cosine_rewards_shared_rare_tokens():
    stats = TokenStats.of(
        [Anchors.from_json({"tokens": ["sony", "camera", f"x{i}"]}) for i in range(50)]
    )
    rare = anchor_features({"tokens": ["sony", "x1"]}, {"tokens": ["canon", "x1"]}, stats)[
        "idf_cosine"
    ]
    common = anchor_features({"tokens": ["sony", "x1"]}, {"tokens": ["sony", "x2"]}, stats)[
        "idf_cosine"
    ]
    assert rare > common


def test_char_jaccard_sees_spelling_variants():
    f = anchor_features(
        {"tokens": ["photoshop", "elements"]}, {"tokens": ["photo-shop", "element"]}
    )
    assert 0.3 < f["char_jaccard"] < 1.0


def test_mutual_best_decision_adapts_to_the_input():
    from index_server.scoring.pairs import decide_pairs, mutual_best

    pairs = [(0, 10), (0, 11), (1, 11), (2, 12)]
    scores = np.array([0.30, 0.20, 0.25, 0.05])
    assert mutual_best(pairs, scores).tolist() == [True, False, True, True]
    # threshold 0.4: nothing passes a fixed cut, the mutual best pairs above 0.2 do
    assert decide_pairs(pairs, scores, 0.4, adaptive=False).tolist() == [False] * 4
    assert decide_pairs(pairs, scores, 0.4).tolist() == [True, False, True, False]


def test_sift_geometric_verification_matches_a_crop_not_another_picture():
    from PIL import Image, ImageDraw

    from index_server.scoring.image import image_pair_features
    from mllm_server.chie.image_features import compute

    def picture(seed: int) -> Image.Image:
        r = np.random.default_rng(seed)
        img = Image.new("RGB", (320, 320), "white")
        draw = ImageDraw.Draw(img)
        for _ in range(60):
            x, y = r.integers(0, 300, 2)
            draw.rectangle(
                [x, y, x + r.integers(5, 30), y + r.integers(5, 30)],
                fill=tuple(r.integers(0, 255, 3).tolist()),
            )
        return img

    def encode(img: Image.Image) -> bytes:
        import io

        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()

    base = picture(1)
    crop = base.crop((20, 20, 300, 300)).resize((320, 320))
    other = picture(2)
    fa, fb, fc = compute(encode(base)), compute(encode(crop)), compute(encode(other))
    assert fa["sift_desc"].shape[1:] == (128,) and len(fa["sift_desc"]) <= 400
    same, other = image_pair_features(fa, fb), image_pair_features(fa, fc)
    assert same["sift_inliers"] > other["sift_inliers"]
    assert same["sift_inlier_area"] > 0.3 > other["sift_inlier_area"]


def test_root_sift_bytes_keep_the_hellinger_geometry():
    from mllm_server.chie.image_features import DESCRIPTOR_SCALE, root_sift

    rng = np.random.default_rng(0)
    sift = rng.random((6, 128)).astype(np.float32) * 100
    got = root_sift(sift)
    assert got.dtype == np.uint8 and got.shape == (6, 128)
    back = got.astype(np.float32) / DESCRIPTOR_SCALE
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), 1.0, atol=0.01)
    # Euclidean distance between RootSIFT vectors is the Hellinger distance of the L1-normalised
    # histograms: ||sqrt(p) - sqrt(q)||^2 = 2 - 2 * sum(sqrt(p * q))
    p, q = sift[0] / sift[0].sum(), sift[1] / sift[1].sum()
    hellinger = 2 - 2 * np.sqrt(p * q).sum()
    assert np.sum((back[0] - back[1]) ** 2) == pytest.approx(hellinger, abs=0.01)
