from hypothesis import given, settings
from hypothesis import strategies as st

from mllm_server.chie.text_parse import _NOT_CODE_PREFIXES, code_key, parse, split_offer_title


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
    assert parse("retrospect 7.5 prof win upgr").words == [
        "retrospect",
        "professional",
        "windows",
        "upgrade",
    ]
    # shorthand one catalogue chose (issue 25 part 5) is no longer expanded
    assert parse("suite dlx acad upg").words == ["suite", "dlx", "acad", "upg"]


def test_a_code_written_apart_is_the_code_written_joined():
    """ "TEW 760", "TEW-760" and "TEW760" are one model code (issue 25: offers write it all
    three ways); the letters are not a word and the number not a bare number."""
    for title in ("Raon disque SSD TEW 760 512 GB", "Raon TEW-760 SSD", "Raon TEW760 SSD"):
        p = parse(title)
        assert p.codes == ["tew760"], title
        assert "tew" not in p.words and "760" not in p.numbers


def test_words_and_sizes_before_a_number_stay_what_they_are():
    # casing is the only sign of a code prefix: an all-upper-case title says nothing
    assert parse("NORI SHAMPOO XL 250").codes == []
    # a size system, a size marker, a unit after the number
    assert parse("Vakana running shoes EU 44").codes == []
    assert parse("Lunar Gr. 38 shoe GR 38").codes == []
    assert parse("Ansmann AA 2500 mAh battery").codes == []
    assert parse('Samsung TV 55" smart').codes == []
    assert parse("Google Pixel 8 phone").codes == []  # a word and a model number
    assert parse("Sony HD 1.5 kit").codes == []  # a decimal is no model number


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text("ABCDEFGHJKLMNPRSTVWXZ", min_size=2, max_size=4).filter(
        lambda p: p.casefold() not in _NOT_CODE_PREFIXES
    ),
    number=st.integers(10, 99999),
    before=st.sampled_from(["Raon SSD", "Ixlar écran", "casque sans fil Nora", "Zen"]),
    after=st.sampled_from(["512 GB", "noir", 'kabellose Kopfhörer 27"', ""]),
)
def test_a_code_has_one_form_whatever_its_separator(prefix, number, before, after):
    """Property: space, hyphen or nothing between a code's letters and number: one code."""
    codes = {
        tuple(parse(f"{before} {prefix}{sep}{number} {after}").codes) for sep in (" ", "-", "")
    }
    assert codes == {(f"{prefix.casefold()}{number}",)}


def test_an_upper_case_title_with_a_lower_case_tail_keeps_its_words():
    """The words before a prefix decide whether casing says anything: an upper-case title
    with a marketing tail in lower case has no code in "PACK OF 12"."""
    p = parse("SPARKLING WATER 1500 ML (PACK OF 12) CHARCOAL BY TISLO - fast delivery")
    assert p.codes == []
    assert ("12", "pack") in p.quantities
    assert parse("Vekvo sparkling water 500 ml PACK OF 12").codes == []  # a stopword


_PART = st.lists(
    st.sampled_from(
        "Allergy Relief Fexofenadine HCl 180 mg Non-Drowsy Tablets Kids Cherry Flavour "
        "Syrup Daily Formula 24 Hour Count Fast Acting".split()
    ),
    min_size=3,
    max_size=6,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(_PART, min_size=2, max_size=4), order=st.randoms(use_true_random=False))
def test_the_parts_of_a_barred_title_read_the_same_in_any_order(parts, order):
    """Property: a marketplace title's bar-separated parts (three or more words each) are all
    the product, so two listings that order them differently read the same words."""
    shuffled = list(parts)
    order.shuffle(shuffled)
    read = [split_offer_title(" | ".join(p)) for p in (parts, shuffled)]
    assert all(shop == "" for _, shop in read)
    assert set(parse(read[0][0]).words) == set(parse(read[1][0]).words)
