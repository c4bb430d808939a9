"""Domain objects shared by every tier. Plain dataclasses: no protobuf, no gRPC.

The same names travel from the protos to Python to the docs: Item, Level, ConceptSet,
LevelEmbeddings, Assignment, cluster_id.
"""

from __future__ import annotations

import enum
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fitrep.anchors import Anchors

F32 = npt.NDArray[np.float32]


class Level(enum.IntEnum):
    """CHIE concept levels; values equal the proto enum numbers."""

    PRIMARY = 1
    AUXILIARY = 2
    CONTENT = 3
    FORM = 4
    OBJECTIVE = 5
    SUBJECTIVE = 6
    VISUAL = 7


TEXT_LEVELS: tuple[Level, ...] = (
    Level.PRIMARY,
    Level.AUXILIARY,
    Level.CONTENT,
    Level.FORM,
    Level.OBJECTIVE,
    Level.SUBJECTIVE,
)
ALL_LEVELS: tuple[Level, ...] = (*TEXT_LEVELS, Level.VISUAL)


class FitrepError(Exception):
    """Base of every error FITRep raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries (extraction workers) whatever the subclass's __init__
        # takes: pickle's default would call it with the formatted message alone.
        return (_rebuilt_error, (type(self), self.args, self.__dict__))


def _rebuilt_error(cls: type[FitrepError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class InvalidInput(FitrepError, ValueError):
    """Bad input; ``field`` names what is at fault (e.g. ``items[3].id``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class NotFound(FitrepError, KeyError):
    """An id that the store does not know."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key

    def __str__(self) -> str:
        return f"{self.what} not found: {self.key}"


class FailedPrecondition(FitrepError):
    """The request is well formed but the index's state refuses it (e.g. vectors of another
    layout or encoder than the index holds, an item id that was deleted); ``field`` names
    what is at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class Overloaded(FitrepError):
    """A queue or batch limit was hit; the caller should back off."""


class NoSpace(Overloaded):
    """The index's disk is full: the batch was not stored. Not fixed by an immediate retry,
    like the other RESOURCE_EXHAUSTED causes; the message starts with ``no space left on``."""


class AlreadyExists(FitrepError):
    """``if_absent``: an item id the index holds, sent with other content; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def has_readable_text(text: str) -> bool:
    """A letter or digit of any script after NFKC: emoji, symbols and zero-width characters
    alone give CHIE nothing to read, so such an item would reach the index with no vector."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in unicodedata.normalize("NFKC", text))


@dataclass
class Item:
    """One catalogue entry. ``image`` is encoded bytes, a path, or None."""

    id: str
    title: str = ""
    text: str = ""
    image: bytes | Path | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def validate(self, where: str = "item") -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise InvalidInput(f"{where}.id", "must be a non-empty string")
        if not (self.title.strip() or self.text.strip() or self.image is not None):
            raise InvalidInput(where, f"item {self.id!r} has no title, text or image")
        if self.image is None and not has_readable_text(f"{self.title} {self.text}"):
            raise InvalidInput(
                where, f"item {self.id!r} has no readable text (no letter or digit) and no image"
            )


def read_number(value: str) -> float | None:
    """A column value as a number (``12.5``, ``1e3``, a decimal comma ``12,5``); None when it is
    not one or not finite."""
    text = value.strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class ItemProfile:
    """How complete an item is, and its numeric columns: what a cluster's representative is
    chosen by (``index_server.clustering.representative``). Filled by the concept tier from the
    ``Item``, since the index tier never sees the item itself."""

    filled_fields: int = 0  # non-empty title, text, image and attributes
    image_pixels: int = 0  # width x height of the image; 0 without one
    numbers: Mapping[str, float] = field(default_factory=dict)  # numeric attributes by column

    @classmethod
    def of(cls, item: Item, image_pixels: int = 0) -> ItemProfile:
        filled = sum(1 for text in (item.title, item.text) if text.strip())
        filled += (item.image is not None) + sum(1 for v in item.attributes.values() if v.strip())
        numbers = {
            k.lower(): n for k, v in item.attributes.items() if (n := read_number(v)) is not None
        }
        return cls(filled, image_pixels, numbers)

    def to_json(self) -> dict[str, Any]:
        return {
            "filled_fields": self.filled_fields,
            "image_pixels": self.image_pixels,
            "numbers": dict(self.numbers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ItemProfile:
        data = data or {}
        numbers = {str(k): float(v) for k, v in dict(data.get("numbers", {})).items()}
        return cls(int(data.get("filled_fields", 0)), int(data.get("image_pixels", 0)), numbers)


@dataclass
class ConceptSet:
    """What CHIE read from one item, level by level.

    ``anchors`` are normalised facts the verifier gates on (``Anchors``; a JSON-shaped mapping
    is accepted and converted); ``image_features`` are pixel-derived arrays (hash, histogram,
    local features) the verifier may use.
    """

    item_id: str
    levels: dict[Level, list[str]]
    anchors: Anchors = field(default_factory=Anchors)
    image_features: dict[str, np.ndarray] = field(default_factory=dict)
    backend: str = "rules"
    version: str = ""
    profile: ItemProfile = field(default_factory=ItemProfile)

    def __post_init__(self) -> None:
        if not isinstance(self.anchors, Anchors):
            self.anchors = Anchors.from_json(self.anchors)

    def text_of(self, level: Level) -> str:
        """The string that is embedded for ``level`` ("" when the level is absent)."""
        return " ; ".join(self.levels.get(level, []))


@dataclass
class LevelEmbeddings:
    """Per-level unit vectors. A level missing from ``vectors`` is absent (masked)."""

    item_id: str
    vectors: dict[Level, F32]
    encoder: str = ""  # the model the vectors come from ("" when the sender does not say)

    @property
    def present(self) -> frozenset[Level]:
        return frozenset(self.vectors)


@dataclass
class EmbeddedItem:
    """The unit that travels from the concept tier to the index tier."""

    concepts: ConceptSet
    embeddings: LevelEmbeddings

    @property
    def item_id(self) -> str:
        return self.concepts.item_id


class ItemChange(enum.IntEnum):
    """What an assign or build call did with an item; values equal the proto enum numbers."""

    UNSPECIFIED = 0  # not said (a server that predates it)
    ADDED = 1  # a new id, judged now
    UNCHANGED = 2  # same content as stored: the stored assignment
    UPDATED = 3  # changed content, judged again now


@dataclass
class Assignment:
    """Where an item went and why (``per_level`` holds the weighted level cosines).

    ``previous_cluster_id``: the cluster the item was in before this version of it arrived
    ("" for its first version); it moved when that differs from ``cluster_id``.
    """

    item_id: str
    cluster_id: str
    nearest_item_id: str = ""
    similarity: float = 0.0
    per_level: dict[Level, float] = field(default_factory=dict)
    is_new_cluster: bool = True
    confidence: float = 1.0
    family_id: str = ""  # the same product up to its variants (sizes, colours, flavours)
    previous_cluster_id: str = ""
    change: ItemChange = ItemChange.UNSPECIFIED
    representative_id: str = ""

    @property
    def moved(self) -> bool:
        return bool(self.previous_cluster_id) and self.previous_cluster_id != self.cluster_id


@dataclass(frozen=True)
class RepresentativeChange:
    """A cluster's representative changed: "" for ``previous_id`` when the cluster is new, for
    ``representative_id`` when no member is left."""

    cluster_id: str
    previous_id: str
    representative_id: str


@dataclass
class AssignResult:
    """An assign call's answer: one assignment per item, in order, and the clusters whose
    representative the call changed."""

    assignments: list[Assignment]
    representative_changes: list[RepresentativeChange] = field(default_factory=list)


@dataclass
class LevelScore:
    """One level's share of a pair decision."""

    level: Level
    similarity: float
    weight: float
    present: bool


@dataclass
class GateResult:
    """A rule of the verifier (e.g. conflicting sizes) and whether it fired. A ``hard`` gate
    that fired vetoes the same-item decision whatever the score; a soft one only lowers it."""

    name: str
    fired: bool
    detail: str = ""
    hard: bool = False


@dataclass
class Explanation:
    """Why two stored items are (not) duplicates, level by level."""

    item_a: str
    item_b: str
    score: float
    threshold: float
    duplicate: bool
    per_level: list[LevelScore]
    gates: list[GateResult]
    cluster_a: str = ""
    cluster_b: str = ""
    features: dict[str, float] = field(default_factory=dict)
    # ``duplicate`` is what clustering decided (same cluster) for two stored items;
    # ``pair_duplicate`` whether the pair alone passes; ``verdict`` the rule, in words.
    verdict: str = ""
    pair_duplicate: bool = False
    family_score: float = 0.0
    family_a: str = ""
    family_b: str = ""


@dataclass
class Neighbor:
    item_id: str
    cluster_id: str
    similarity: float


@dataclass
class Cluster:
    cluster_id: str
    member_ids: list[str]
    aliases: list[str] = field(default_factory=list)
    family_id: str = ""
    representative_id: str = ""


@dataclass
class IndexInfo:
    items: int
    clusters: int
    reducer: str
    faiss_index: str
    index_version: int
    level_weights: dict[str, float]
    threshold: float
    server_version: str = ""
