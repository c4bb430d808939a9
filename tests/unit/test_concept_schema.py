"""The vLLM answer contract without vLLM: schema bounds, prompt file, parser."""

from __future__ import annotations

import json

import pytest
from fitrep.domain import Item, Level

from mllm_server.chie.concept_schema import (
    AnswerError,
    PromptTemplate,
    SchemaLimits,
    answer_schema,
    parse_answer,
)

GOOD = {
    "primary": ["USB-C cable", "Anker"],
    "auxiliary": ["black"],
    "content": ["charging"],
    "form": [],
    "objective": ["2 m"],
    "subjective": ["premium"],
    "anchors": {"brand": ["Anker"], "codes": ["A-8132"], "quantities": ["2 m"], "variant": []},
}


def test_schema_bounds_every_string_and_array() -> None:
    limits = SchemaLimits(max_items=3, max_chars=20, max_anchor_items=2)
    schema = answer_schema(limits)
    assert schema["additionalProperties"] is False
    for key in ("primary", "subjective"):
        prop = schema["properties"][key]
        assert prop["maxItems"] == 3 and prop["items"]["maxLength"] == 20
    assert schema["properties"]["primary"]["minItems"] == 1
    anchors = schema["properties"]["anchors"]["properties"]
    assert all(a["maxItems"] == 2 and a["items"]["maxLength"] == 20 for a in anchors.values())
    # The token budget covers the longest answer the schema allows, at >= 1 char per token.
    longest = {k: ["x" * 20] * 3 for k in ("primary", "auxiliary", "content", "form")}
    longest |= {k: ["x" * 20] * 3 for k in ("objective", "subjective")}
    longest["anchors"] = {k: ["x" * 20] * 2 for k in anchors}
    assert len(json.dumps(longest, separators=(",", ":"))) <= limits.token_budget()


def test_parse_maps_levels_and_anchors() -> None:
    cs = parse_answer(json.dumps(GOOD), "i1", "m+concepts_v1")
    assert cs.item_id == "i1" and cs.backend == "vllm" and cs.version == "m+concepts_v1"
    assert cs.levels[Level.PRIMARY] == ["usb-c cable", "anker"]
    assert Level.FORM not in cs.levels  # empty level stays absent
    assert cs.anchors.to_json()["code"] == ["a8132"]  # same canonical form as the rules backend
    assert cs.anchors.to_json()["brand"] == ["anker"] and "variant" not in cs.anchors.to_json()


@pytest.mark.parametrize(
    "raw",
    [
        '{"primary": ["cable"',  # cut off at max_tokens
        "[]",
        json.dumps({**GOOD, "primary": []}),
        json.dumps({k: v for k, v in GOOD.items() if k != "anchors"}),
        json.dumps({**GOOD, "content": "not a list"}),
    ],
)
def test_unusable_answers_raise_answer_error(raw: str) -> None:
    with pytest.raises(AnswerError):
        parse_answer(raw, "i1", "v")


def test_prompt_file_is_versioned_and_filled() -> None:
    prompt = PromptTemplate("concepts_v1")
    assert prompt.version == "concepts_v1"
    text = prompt.render(Item("i", "Anker cable {2 m}", "braided", attributes={"colour": "red"}))
    assert "Title: Anker cable {2 m}" in text and "colour: red" in text
    assert "$title" not in text
    with pytest.raises(FileNotFoundError):
        PromptTemplate("concepts_v999")


def test_the_default_prompt_reads_the_package_like_a_title() -> None:
    from mllm_server.chie.concept_schema import DEFAULT_PROMPT

    text = PromptTemplate(DEFAULT_PROMPT).render(Item("i", "", "", image=b"img"))
    assert DEFAULT_PROMPT == "concepts_v2" and "printed on the product or its package" in text
    assert "price labels" in text and "flavour" in text
