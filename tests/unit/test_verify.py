from index_server.verify import anchor_features


def test_conflicting_model_codes_fire_the_gate():
    f = anchor_features({"code": ["t0441"], "code_any": ["t0441"]}, {"code": ["t0442"], "code_any": ["t0442"]})
    assert f["code_conflict"] == 1.0 and f["code_match"] == 0.0


def test_colour_suffix_of_the_same_model_is_compatible():
    f = anchor_features({"code": ["lmvm2085"]}, {"code": ["lmvm2085wh"]})
    assert f["code_match"] == 1.0 and f["code_conflict"] == 0.0


def test_variant_conflicts():
    f = anchor_features({"variant": ["black"]}, {"variant": ["cyan"]})
    assert f["colour_conflict"] == 1.0
    f = anchor_features({"quantity": ["1 l"]}, {"quantity": ["500 ml", "1 count"]})
    assert f["quantity_conflict"] == 0.0  # different units are not comparable
    f = anchor_features({"quantity": ["500 ml"]}, {"quantity": ["330 ml"]})
    assert f["quantity_conflict"] == 1.0
    f = anchor_features({"number": ["2007"], "number_any": ["2007"]}, {"number": ["2003"]})
    assert f["number_conflict"] == 1.0


def test_brand_conflict_needs_both_brands_unrelated():
    assert anchor_features({"brand": ["sony"]}, {"brand": ["canon"]})["brand_conflict"] == 1.0
    assert anchor_features({"brand": ["sony"]}, {"brand": ["cybershot"], "tokens": ["sony"]})["brand_conflict"] == 0.0
