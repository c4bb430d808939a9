"""The JSON answer a vision-language model gives for one item: schema, prompt, parser.

Pure Python (no vLLM), so it is unit-testable on the CPU project. The schema bounds every
string and array: structured decoding can then always close the JSON within ``max_tokens``
(a model that rambles, or a random-weight test model, would otherwise write until the limit
inside one string and never parse).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fitrep.domain import Anchors, ConceptSet, Item, Level

from mllm_server.chie.text_parse import code_key, format_quantity, normalise, parse
from mllm_server.chie.variants import variant_attributes

DEFAULT_PROMPT = "concepts_v2"  # v2 reads the package like a title (docs/ocr.md)

# JSON key -> level; keys are the lower-case level names, the proto names.
LEVEL_KEYS: dict[str, Level] = {
    "primary": Level.PRIMARY,
    "auxiliary": Level.AUXILIARY,
    "content": Level.CONTENT,
    "form": Level.FORM,
    "objective": Level.OBJECTIVE,
    "subjective": Level.SUBJECTIVE,
}
# JSON anchor key -> ConceptSet anchor name (the names the verifier gates on).
ANCHOR_KEYS: dict[str, str] = {
    "brand": "brand",
    "codes": "code",
    "quantities": "quantity",
    "variant": "variant",
}
# No control characters, quotes or backslashes inside values: nothing that needs escaping,
# so a bounded value is also a bounded number of bytes on the wire.
_VALUE_PATTERN = r'^[^\x00-\x1f"\\]+$'


class AnswerError(ValueError):
    """The model's answer is not the JSON the schema describes."""


@dataclass(frozen=True)
class SchemaLimits:
    """Bounds of the answer. ``max_tokens`` must cover the worst case: see ``token_budget``."""

    max_items: int = 6
    max_chars: int = 40
    max_anchor_items: int = 4

    def token_budget(self) -> int:
        """Tokens that always suffice for a schema-bounded answer, assuming a token holds at
        least one character (true of the ASCII a catalogue answer is made of; a model that
        writes multi-byte characters one byte per token may hit the limit and fall back)."""
        strings = len(LEVEL_KEYS) * self.max_items + len(ANCHOR_KEYS) * self.max_anchor_items
        keys = sum(len(k) + 4 for k in [*LEVEL_KEYS, *ANCHOR_KEYS, "anchors"])
        return strings * (self.max_chars + 3) + keys + 16


def answer_schema(limits: SchemaLimits = SchemaLimits()) -> dict[str, Any]:
    """JSON schema of one answer; every key required so the shape never varies."""

    def phrases(max_items: int, min_items: int = 0) -> dict[str, Any]:
        return {
            "type": "array",
            "items": {
                "type": "string",
                "minLength": 1,
                "maxLength": limits.max_chars,
                "pattern": _VALUE_PATTERN,
            },
            "minItems": min_items,
            "maxItems": max_items,
        }

    properties: dict[str, Any] = {
        key: phrases(limits.max_items, 1 if key == "primary" else 0) for key in LEVEL_KEYS
    }
    properties["anchors"] = {
        "type": "object",
        "properties": {key: phrases(limits.max_anchor_items) for key in ANCHOR_KEYS},
        "required": list(ANCHOR_KEYS),
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": properties,
        "required": [*LEVEL_KEYS, "anchors"],
        "additionalProperties": False,
    }


class PromptTemplate:
    """A versioned prompt file from ``mllm_server/chie/prompts``; ``version`` is its stem."""

    def __init__(self, version: str = DEFAULT_PROMPT) -> None:
        path = resources.files("mllm_server.chie").joinpath("prompts", f"{version}.txt")
        if not path.is_file():
            raise FileNotFoundError(f"prompt {version!r} not found at {path}")
        self.version = version
        self._template = string.Template(path.read_text(encoding="utf-8"))

    def render(self, item: Item, max_text_chars: int = 1500) -> str:
        """The user message text for ``item`` (the image travels separately)."""
        attributes = "; ".join(f"{k}: {v}" for k, v in item.attributes.items())
        return self._template.safe_substitute(
            title=item.title.strip(),
            text=item.text.strip()[:max_text_chars],
            attributes=attributes[:max_text_chars] or "-",
        )


def _clean(values: Any, limit: int) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise AnswerError(f"expected a list of strings, got {values!r}")
    cleaned = (" ".join(normalise(v).split()) for v in values)
    return list(dict.fromkeys(v for v in cleaned if v))[:limit]


def parse_answer(
    raw: str,
    item_id: str,
    version: str,
    limits: SchemaLimits = SchemaLimits(),
    backend: str = "vllm",
) -> ConceptSet:
    """Model answer -> ConceptSet, or AnswerError when it is not schema-shaped JSON."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(data, dict):
        raise AnswerError("top level is not an object")
    missing = [key for key in [*LEVEL_KEYS, "anchors"] if key not in data]
    if missing:
        raise AnswerError(f"missing keys {missing}")
    levels = {
        level: values
        for key, level in LEVEL_KEYS.items()
        if (values := _clean(data[key], limits.max_items))
    }
    if Level.PRIMARY not in levels:
        raise AnswerError("empty primary level")
    raw_anchors = data["anchors"]
    if not isinstance(raw_anchors, dict):
        raise AnswerError("anchors is not an object")
    anchors: dict[str, list[str]] = {}
    for key, name in ANCHOR_KEYS.items():
        values = _clean(raw_anchors.get(key, []), limits.max_anchor_items)
        if name == "code":
            # The same canonical form the rules backend gives codes, so gates compare alike.
            values = list(dict.fromkeys(code_key(v.replace(" ", "")) for v in values))
        elif name == "quantity":  # "0,5 l" -> "500 ml": the canonical units the gates compare
            values = list(
                dict.fromkeys(format_quantity(q) for v in values for q in parse(v).quantities)
            )
        elif name == "variant":  # "vanille" -> "flavour:vanilla"; unknown words kept as "other"
            values = list(
                dict.fromkeys(
                    x for v in values for x in (variant_attributes(parse(v)) or [f"other:{v}"])
                )
            )
        if values:
            anchors[name] = values
    return ConceptSet(
        item_id=item_id,
        levels=levels,
        anchors=Anchors.from_json(anchors),
        backend=backend,
        version=version,
    )
