"""Domain objects shared by every tier. Plain dataclasses: no protobuf, no gRPC.

The same names travel from the protos to Python to the docs: Item, Level, ConceptSet,
LevelEmbeddings, Assignment, cluster_id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

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


class Overloaded(FitrepError):
    """A queue or batch limit was hit; the caller should back off."""


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


@dataclass
class ConceptSet:
    """What CHIE read from one item, level by level.

    ``anchors`` are normalised facts the verifier gates on ("code", "quantity", "brand",
    "variant", "tokens"); ``image_features`` are pixel-derived arrays (hash, histogram,
    local features) the verifier may use.
    """

    item_id: str
    levels: dict[Level, list[str]]
    anchors: dict[str, list[str]] = field(default_factory=dict)
    image_features: dict[str, np.ndarray] = field(default_factory=dict)
    backend: str = "rules"
    version: str = ""

    def text_of(self, level: Level) -> str:
        """The string that is embedded for ``level`` ("" when the level is absent)."""
        return " ; ".join(self.levels.get(level, []))


@dataclass
class LevelEmbeddings:
    """Per-level unit vectors. A level missing from ``vectors`` is absent (masked)."""

    item_id: str
    vectors: dict[Level, F32]

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


@dataclass
class Assignment:
    """Where an item went and why (``per_level`` holds the weighted level cosines)."""

    item_id: str
    cluster_id: str
    nearest_item_id: str = ""
    similarity: float = 0.0
    per_level: dict[Level, float] = field(default_factory=dict)
    is_new_cluster: bool = True
    confidence: float = 1.0


@dataclass
class LevelScore:
    """One level's share of a pair decision."""

    level: Level
    similarity: float
    weight: float
    present: bool


@dataclass
class GateResult:
    """A hard rule of the verifier (e.g. conflicting model codes) and whether it fired."""

    name: str
    fired: bool
    detail: str = ""


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
