from mllm_server.chie.text_parse import code_key, parse


def test_codes_quantities_and_numbers_are_told_apart():
    p = parse("Sony DSC-W120 7.2MP camera, 2.5 inch LCD, 4x zoom, office 2007, part 226540")
    assert "dscw120" in p.codes
    assert "226540" in p.codes  # long digit strings are part numbers
    assert ("7.2", "mp") in p.quantities
    assert ("63.5", "mm") in p.quantities  # 2.5 inch, in the length dimension's unit
    assert ("4", "x") in p.quantities  # a zoom factor, not a pack
    assert "2007" in p.numbers
    assert "camera" in p.words


def test_unit_after_separator_and_html_are_handled():
    p = parse("LG 2.0 cu . ft. microwave &amp; <b>oven</b>")
    assert ("2", "cu") in p.quantities
    assert "oven" in p.words and "b" not in p.words


def test_code_key_drops_separators():
    assert code_key("DSC-W120".lower()) == "dscw120"
    assert code_key("v3.0c") == "v30c"


def test_shorthand_is_expanded():
    assert parse("retrospect 7.5 prof win upg").words == [
        "retrospect",
        "professional",
        "windows",
        "upgrade",
    ]
