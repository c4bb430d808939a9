"""The OCR stage: box geometry, roles (primary package text vs shelf), the cache, the switch,
and the words' way into the rules backend's concepts. Only the last test needs rapidocr."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from fitrep.domain import FitrepError, InvalidInput, Item, Level
from PIL import Image, ImageDraw, ImageFont

from index_server.scoring.features import anchor_features
from index_server.scoring.variant_gates import variant_conflicts
from mllm_server.chie import ocr
from mllm_server.chie.ocr import PackageReader, TextBox, boxes_from_quads, wants_ocr
from mllm_server.chie.package_text import PackageText, Role, package_text, roles
from mllm_server.chie.rules import RulesExtractor


def box(text: str, conf: float = 0.95, h: float = 0.1, x: float = 0.5, y: float = 0.5) -> TextBox:
    """A box of line height ``h`` centred at (x, y), three times as wide as high."""
    return TextBox(text, conf, x - 1.5 * h, y - h / 2, x + 1.5 * h, y + h / 2, h)


def test_large_central_confident_text_is_primary_and_the_shelf_is_not():
    boxes = [
        box("alpro", h=0.14),
        box("blueberry", h=0.05, y=0.65),
        box("29 95", h=0.08, x=0.2, y=0.85),  # price label: no letters
        box("Mild&Creamy", h=0.02, y=0.7),  # small print
        box("HAVRE", h=0.06, x=0.05, y=0.2),  # a neighbour cut by the frame
        box("plert piotes", conf=0.55, h=0.1),  # a recogniser guess
        box("EKO", h=0.06, x=0.85, y=0.9),  # in a corner
    ]
    assert roles(boxes) == [
        Role.PRIMARY,
        Role.PRIMARY,
        Role.DROPPED,
        Role.AUXILIARY,
        Role.AUXILIARY,
        Role.DROPPED,
        Role.AUXILIARY,
    ]
    assert package_text(boxes) == PackageText("alpro blueberry", "HAVRE EKO Mild&Creamy")


def test_primary_text_puts_the_largest_print_first_and_names_a_repeated_line_once():
    boxes = [box("ORIGINAL", h=0.05), box("alpro", h=0.12), box("Alpro", h=0.1, y=0.3)]
    assert package_text(boxes).primary == "alpro ORIGINAL"
    assert package_text([]) == PackageText()


def test_box_geometry():
    assert box("a", x=0.5, y=0.5).centre_distance == pytest.approx(0.0)
    corner = TextBox("a", 1.0, 0.9, 0.9, 1.0, 1.0, 0.1)
    assert corner.centre_distance == pytest.approx(0.9)
    assert corner.touches_border and not box("a").touches_border
    assert TextBox.from_json(box("Mjölk").to_json()) == box("Mjölk")


def test_boxes_from_quads_are_relative_to_the_image():
    # a 200 x 100 px line of text, 40 px high, in a 400 x 200 image; one empty reading
    quads = [[[100, 40], [300, 40], [300, 80], [100, 80]], [[0, 0], [5, 0], [5, 5], [0, 5]]]
    (b,) = boxes_from_quads(quads, [" oatly ", " "], [0.9, 0.9], 400, 200)
    assert (b.text, b.x0, b.y0, b.x1, b.y1) == ("oatly", 0.25, 0.2, 0.75, 0.4)
    assert b.height == pytest.approx(40 / 200)  # a share of the shorter side


class FakeEngine:
    """Stands in for rapidocr: one centred line per call, whose text is the image width."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, img: Image.Image) -> SimpleNamespace:
        self.calls += 1
        w, h = img.size
        quad = [[0.2 * w, 0.4 * h], [0.8 * w, 0.4 * h], [0.8 * w, 0.6 * h], [0.2 * w, 0.6 * h]]
        return SimpleNamespace(boxes=np.array([quad]), txts=(f"w{w}",), scores=(0.99,))


def _png(size: tuple[int, int], colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_reader_scales_to_the_detection_side_caches_per_image_and_reports_progress(tmp_path):
    reader = PackageReader(det_side=320, disk_cache=tmp_path / "ocr.sqlite")
    reader._engine = engine = FakeEngine()
    a, b = _png((100, 50)), _png((60, 60), (0, 0, 200))
    calls: list[tuple[int, int]] = []
    got = reader.read_many([a, b, a, b"not an image"], lambda d, t: calls.append((d, t)))
    assert [[x.text for x in boxes] for boxes in got] == [["w320"], ["w320"], ["w320"], []]
    assert engine.calls == 2  # the same bytes twice are read once
    assert calls[-1] == (4, 4) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    reader.read_many([a, b])
    assert engine.calls == 2 and reader.cache_hits >= 2
    reader.close()
    # a new reader finds them on disk; other settings are other keys
    again = PackageReader(det_side=320, disk_cache=tmp_path / "ocr.sqlite")
    again._engine = FakeEngine()
    assert again.read(a)[0].text == "w320" and again._engine.calls == 0
    other = PackageReader(det_side=640, disk_cache=tmp_path / "ocr.sqlite")
    other._engine = FakeEngine()
    assert other.read(a)[0].text == "w640" and other._engine.calls == 1


def test_the_switch(monkeypatch):
    assert wants_ocr("off") is False and wants_ocr(False) is False
    with pytest.raises(InvalidInput, match="ocr"):
        wants_ocr("sometimes")
    monkeypatch.setattr(ocr, "ocr_available", lambda: False)
    assert wants_ocr("auto") is False
    with pytest.raises(FitrepError, match=r"\[ocr\] extra"):
        wants_ocr("on")
    assert RulesExtractor(ocr="auto").reader is None
    monkeypatch.setattr(ocr, "ocr_available", lambda: True)
    assert wants_ocr("auto") is True and wants_ocr("on") is True
    assert RulesExtractor(ocr="on", use_images=False).reader is None


class FakeReader:
    """Canned boxes per image bytes, as PackageReader returns them."""

    def __init__(self, boxes: dict[bytes, list[TextBox]]) -> None:
        self.boxes = boxes
        self.read_calls = 0

    def read(self, image: bytes) -> list[TextBox]:
        self.read_calls += 1
        return self.boxes[image]

    def read_many(self, images, progress=None):  # type: ignore[no-untyped-def]
        out = [self.read(i) for i in images]
        if progress and images:
            progress(len(images), len(images))
        return out


def _rules_with(boxes: dict[bytes, list[TextBox]]) -> RulesExtractor:
    rules = RulesExtractor(ocr="off")
    rules.reader = FakeReader(boxes)  # type: ignore[assignment]
    return rules


def test_package_words_reach_the_same_levels_and_anchors_as_title_words():
    red, blue, plain = _png((40, 40)), _png((40, 40), (0, 0, 200)), _png((40, 40), (9, 9, 9))
    shelf = box("KARLEK", h=0.05, x=0.02, y=0.5)
    rules = _rules_with(
        {
            red: [box("OATLY", h=0.15), box("red", h=0.06, y=0.7), shelf],
            blue: [box("OATLY", h=0.15), box("blue", h=0.06, y=0.7)],
            plain: [box("Barista", h=0.1)],
        }
    )
    cs_red, cs_blue, titled, text_only = rules.extract(
        [
            Item("r", image=red),
            Item("b", image=blue),
            Item("t", "oat drink 1 l", image=plain),
            Item("x", "oat drink 1 l"),
        ]
    )
    # no title: the package text is the title
    assert "oatly" in cs_red.levels[Level.PRIMARY]
    assert list(cs_red.anchors.variant) == ["colour:red"]
    assert cs_red.anchors.variant_read == ("colour:red",)  # read off the picture only
    assert "karlek" in cs_red.levels[Level.AUXILIARY]
    # a colour read off a package conflicts as one in a title would
    titles = RulesExtractor(ocr="off").extract([Item("r", "oatly red"), Item("b", "oatly blue")])
    assert variant_conflicts(cs_red.anchors, cs_blue.anchors)["colour_conflict"] == "red vs blue"
    assert variant_conflicts(titles[0].anchors, titles[1].anchors)["colour_conflict"]
    # with a title: the package adds a segment; text-only items never ask the reader
    assert "barista" in titled.anchors.tokens and "drink" in titled.anchors.tokens
    assert (
        text_only.levels == RulesExtractor(ocr="off").extract_one(Item("x", "oat drink 1 l")).levels
    )
    assert rules.reader.read_calls == 3 + 3  # type: ignore[union-attr]  # batch pass + per item


@pytest.mark.skipif(not ocr.ocr_available(), reason="the [ocr] extra (rapidocr) is not installed")
def test_rapidocr_reads_the_big_words_of_a_drawn_package(tmp_path):
    img = Image.new("RGB", (400, 400), (250, 240, 200))
    draw = ImageDraw.Draw(img)
    draw.text((200, 170), "OATLY", (20, 20, 90), ImageFont.load_default(size=72), anchor="mm")
    draw.text((200, 250), "VANILLA", (20, 20, 90), ImageFont.load_default(size=48), anchor="mm")
    draw.text((2, 380), "PRICE 12 95", (0, 0, 0), ImageFont.load_default(size=14))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    reader = PackageReader(threads=1, disk_cache=None)
    text = package_text(reader.read(buf.getvalue()))
    assert text.primary.split() == ["OATLY", "VANILLA"]
    assert "PRICE" in text.auxiliary


def test_the_pipeline_shows_the_picture_reading_as_its_own_stage():
    from fitrep.pipeline import Pipeline

    from index_server.engine import IndexEngine
    from mllm_server.chie.encoder import LevelEncoder
    from mllm_server.chie.engine import ConceptEngine
    from tests.conftest import hash_embed

    pic = _png((40, 40))
    rules = _rules_with({pic: [box("OATLY", h=0.15)]})
    pipeline = Pipeline(
        ConceptEngine(rules, LevelEncoder(embed=hash_embed)), IndexEngine(), batch_size=2
    )
    items = [Item("a", image=pic), Item("b", "oat drink"), Item("c", image=pic)]
    seen: list[tuple[str, int, int]] = []
    pipeline.embed(items, lambda stage, done, total: seen.append((stage, done, total)))
    assert [s for s in seen if s[0] == "ocr"] == [("ocr", 1, 2), ("ocr", 2, 2)]
    assert seen[-1] == ("concepts", 3, 3)


def test_package_grams_forgive_a_misread_letter_and_reach_the_image_channel():
    from index_server.scoring.image import image_pair_features
    from index_server.validation import check_image_features
    from mllm_server.chie.image_features import compute

    grams = [
        PackageText(text).image_features()
        for text in ("Tropicana APPLE", "fropicana APPLE", "GOD MORGON orange")
    ]
    assert PackageText("29 95").image_features() == {}
    assert grams[0]["package_grams"].dtype == np.float16 and grams[0]["package_grams"].shape == (
        256,
    )
    pixels = compute(_png((64, 64)))
    a, b, c = ({**pixels, **g} for g in grams)
    check_image_features(a, "a")
    same, other = image_pair_features(a, b), image_pair_features(a, c)
    assert same["package_text_both"] == other["package_text_both"] == 1.0
    assert same["package_text_sim"] > 0.6 > 0.2 > other["package_text_sim"]
    assert image_pair_features(a, pixels)["package_text_both"] == 0.0


def test_a_brand_read_off_a_picture_is_no_identity_conflict():
    """OCR's first word stands in for the brand of a photo: a slogan on one photo of a package
    and the brand on the next. Two such guesses do not veto the pair (val photos: 56 of 203
    same-product pairs were vetoed so); brands of two titles still do."""
    front, side = _png((40, 40)), _png((40, 40), (0, 0, 200))
    rules = _rules_with(
        {
            front: [box("BRAVO", h=0.15), box("apple juice", h=0.06, y=0.7)],
            side: [box("SUNNY MORNING", h=0.15), box("apple juice", h=0.06, y=0.7)],
        }
    )
    a, b = (cs.anchors for cs in rules.extract([Item("f", image=front), Item("s", image=side)]))
    assert a.brand_from == b.brand_from == ("picture",)
    assert variant_conflicts(a, b)["substitution_conflict"] == ""
    assert anchor_features(a, b)["brand_conflict"] == 0.0
    titles = RulesExtractor(ocr="off").extract(
        [Item("x", "Bravo apple juice 1 l"), Item("y", "Tropicana apple juice 1 l")]
    )
    x, y = (cs.anchors for cs in titles)
    assert x.brand_from == ("title",)
    assert variant_conflicts(x, y)["substitution_conflict"] == "brand bravo vs tropicana"
    assert anchor_features(x, y)["brand_conflict"] == 1.0
