from collections.abc import Mapping, Sequence

from fitrep.domain import Anchors

from index_server.scoring import features


def anchor_features(a: Mapping[str, Sequence[str]], b: Mapping[str, Sequence[str]]):
    """The features of two anchor sets written in their JSON form."""
    return features.anchor_features(Anchors.from_json(a), Anchors.from_json(b))


def test_conflicting_model_codes_fire_the_gate():
    f = anchor_features(
        {"code": ["t0441"], "code_any": ["t0441"]}, {"code": ["t0442"], "code_any": ["t0442"]}
    )
    assert f["code_conflict"] == 1.0 and f["code_match"] == 0.0


def test_colour_suffix_of_the_same_model_is_compatible():
    f = anchor_features({"code": ["lmvm2085"]}, {"code": ["lmvm2085wh"]})
    assert f["code_match"] == 1.0 and f["code_conflict"] == 0.0


def test_variant_conflicts():
    f = anchor_features({"variant": ["black"]}, {"variant": ["cyan"]})
    assert f["colour_conflict"] == 1.0
    f = anchor_features({"quantity": ["1 l"]}, {"quantity": ["500 ml", "1 count"]})
    assert f["quantity_conflict"] == 1.0  # litres and millilitres are one dimension
    f = anchor_features({"quantity": ["1 l"]}, {"quantity": ["1000 ml"]})
    assert f["quantity_conflict"] == 0.0
    f = anchor_features({"quantity": ["1 l"]}, {"quantity": ["2 count"]})
    assert f["quantity_conflict"] == 0.0  # volume and count are not comparable
    f = anchor_features({"quantity": ["500 ml"]}, {"quantity": ["330 ml"]})
    assert f["quantity_conflict"] == 1.0
    f = anchor_features({"number": ["2007"], "number_any": ["2007"]}, {"number": ["2003"]})
    assert f["number_conflict"] == 1.0


def test_brand_conflict_needs_both_brands_unrelated():
    assert anchor_features({"brand": ["sony"]}, {"brand": ["canon"]})["brand_conflict"] == 1.0
    assert (
        anchor_features({"brand": ["sony"]}, {"brand": ["cybershot"], "tokens": ["sony"]})[
            "brand_conflict"
        ]
        == 0.0
    )


def test_both_sides_naming_something_the_other_never_mentions():
    series_a = {"tokens": ["professor", "teaches", "windows", "xp"]}
    series_b = {"tokens": ["professor", "teaches", "excel", "word"]}
    f = anchor_features(series_a, series_b)
    assert f["unique_min"] == 0.5
    short = {"tokens": ["registry", "mechanic"]}
    long_ = {
        "tokens": ["encore", "registry", "mechanic"],
        "words_any": ["encore", "registry", "mechanic"],
    }
    assert anchor_features(short, long_)["unique_min"] == 0.0


def test_spelling_extensions_count_as_mentioned():
    f = anchor_features({"tokens": ["landscaping"]}, {"tokens": ["landscap"]})
    assert f["unique_max"] == 0.0


def test_edition_conflict_needs_each_side_to_name_its_own():
    upgrade = {"variant": ["edition:upgrade"], "words_any": ["after", "effects", "upgrade"]}
    academic = {"variant": ["edition:academic"], "words_any": ["after", "effects", "academic"]}
    f = anchor_features(upgrade, academic)
    assert f["edition_conflict"] == 1.0 and f["edition_mismatch"] == 0.0
    silent = {"variant": [], "words_any": ["after", "effects"]}
    f = anchor_features(upgrade, silent)
    assert f["edition_conflict"] == 0.0 and f["edition_mismatch"] == 1.0
    both = {"variant": ["edition:mac"], "words_any": ["poser", "windows", "mac"]}
    assert (
        anchor_features(
            {"variant": ["edition:windows"], "words_any": ["poser", "windows", "mac"]}, both
        )["edition_conflict"]
        == 0.0
    )


def test_image_only_pairs_get_the_modality_shift():
    import numpy as np
    from fitrep.domain import Level

    from index_server.integration import LevelLayout
    from index_server.scoring.calibration import Calibration
    from index_server.scoring.logistic import LogisticModel, LogisticScorer

    layout = LevelLayout.from_dims({Level.PRIMARY: 2, Level.VISUAL: 2})
    coef = {"cos_visual": 1.0, "cos_primary": 1.0}
    plain = Calibration(model=LogisticModel(coef=coef))
    shifted = Calibration(model=LogisticModel(coef=coef, modality_shift={"image_only": 2.0}))
    photo = np.array([0, 0, 1, 0], np.float32)  # VISUAL only
    both = np.array([1, 0, 1, 0], np.float32)
    # shifted when the only level the two share is VISUAL, whatever else one side has
    for a, b, expect_shift in ((photo, photo, True), (photo, both, True), (both, both, False)):
        p0, p1 = (
            LogisticScorer(cal, layout).score(a, Anchors(), b[None, :], [Anchors()]).probability[0]
            for cal in (plain, shifted)
        )
        logit = lambda p: np.log(p / (1 - p))  # noqa: E731
        assert abs(logit(p1) - logit(p0) - (2.0 if expect_shift else 0.0)) < 1e-4
