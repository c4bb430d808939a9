import io

import numpy as np
from fitrep.domain import Item, Level
from PIL import Image

from mllm_server.chie.rules import RulesExtractor


def _png(colour: tuple[int, int, int], box: tuple[int, int, int, int] | None = None) -> bytes:
    img = Image.new("RGB", (96, 96), colour)
    if box:
        img.paste((255, 255, 255), box)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_levels_follow_roles():
    cs = RulesExtractor().extract_one(
        Item(
            "a",
            "Sony pink Cyber-shot 7.2MP camera DSC-W120",
            "the best elegant camera, free shipping",
        )
    )
    assert "sony" in cs.levels[Level.PRIMARY]
    assert "dscw120" in cs.levels[Level.PRIMARY]
    assert "pink" in cs.levels[Level.AUXILIARY]
    assert "pink" not in " ".join(cs.levels[Level.PRIMARY])
    assert {"best", "elegant"} <= set(cs.levels[Level.SUBJECTIVE])
    assert "7.2 mp" in cs.levels[Level.OBJECTIVE]
    assert cs.anchors.to_json()["variant"] == ["colour:pink"]
    assert cs.anchors.to_json()["code"] == ["dscw120"]


def test_missing_levels_are_absent_not_faked():
    cs = RulesExtractor().extract_one(Item("b", "oat drink"))
    assert Level.SUBJECTIVE not in cs.levels
    assert Level.VISUAL not in cs.levels
    assert all(values for values in cs.levels.values())


def test_image_only_item_gets_visual_features():
    cs = RulesExtractor().extract_one(Item("img", image=_png((200, 30, 30), (20, 20, 60, 60))))
    assert Level.VISUAL in cs.levels
    assert cs.image_features["global"].dtype == np.float32
    assert cs.image_features["phash"].shape == (8,)


def test_unreadable_image_is_ignored_not_fatal():
    cs = RulesExtractor().extract_one(Item("bad", "a title", image=b"not an image"))
    assert Level.VISUAL not in cs.levels
    assert Level.PRIMARY in cs.levels


def test_brand_from_attributes_wins():
    cs = RulesExtractor().extract_one(
        Item("m", "office 2007", attributes={"manufacturer": "Microsoft Corp"})
    )
    assert cs.anchors.to_json()["brand"] == ["microsoft"]
    assert cs.anchors.to_json()["number"] == ["2007"]


def test_a_title_of_stopwords_alone_still_has_a_primary_level():
    """'The One' is readable text, not a bad line: it must get a vector to be found by."""
    levels = RulesExtractor().extract_one(Item("x", "The And Of")).levels
    assert levels[Level.PRIMARY] == ["the and of"]
