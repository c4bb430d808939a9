"""Seeded catalogue generators of several shapes, with their truth.

A fixture passes because its author wrote it; a generator with a seed gives catalogues nobody tuned
on. Each shape lives in a module of its own (``templates``, ``multilingual``, ``electronics``, ...)
and returns a :class:`SyntheticCatalogue`: rows as a user's jsonl would hold them, and for every
item its true item (``sku``: same sku = duplicates) and product family (variants share it).
Benchmarks develop on some seeds and report others; property tests draw seeds with hypothesis.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SyntheticCatalogue:
    """Generated rows (``id``, ``title``, optional ``description`` and other columns) and truth."""

    name: str
    seed: int
    rows: list[dict[str, object]]
    sku: dict[str, str]
    family: dict[str, str]
    # the language each row is written in, where the generator mixes languages (a benchmark
    # splits recall into pairs of one language and translations); empty otherwise
    language: dict[str, str] = field(default_factory=dict)

    @classmethod
    def shuffled(
        cls,
        name: str,
        seed: int,
        rows: list[dict[str, object]],
        sku: dict[str, str],
        family: dict[str, str],
        rng: random.Random,
        language: dict[str, str] | None = None,
    ) -> SyntheticCatalogue:
        """The catalogue with its rows in ``rng``'s order (duplicates never sit side by side)."""
        order = list(range(len(rows)))
        rng.shuffle(order)
        return cls(name, seed, [rows[i] for i in order], sku, family, dict(language or {}))

    def write_jsonl(self, path: Path) -> Path:
        """Write the rows as ``fitrep dedup`` reads them (one JSON object a line, UTF-8)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as fh:
            for row in self.rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return path

    def truth_pairs(self) -> set[tuple[str, str]]:
        """Every unordered pair of items with one sku, as (smaller id, larger id)."""
        return _pairs(self.sku)

    def largest_sku_group(self) -> int:
        return max(Counter(self.sku.values()).values(), default=0)


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    largest_cluster: int


def _pairs(label_of: Mapping[str, str]) -> set[tuple[str, str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for item, label in label_of.items():
        groups[label].append(item)
    return {
        (a, b) if a < b else (b, a)
        for members in groups.values()
        for a, b in itertools.combinations(members, 2)
    }


def pairwise_scores(cluster_of: Mapping[str, str], truth: Mapping[str, str]) -> PairScores:
    """Pairwise precision, recall and F1 of predicted clusters against true groups (items of
    ``truth`` only), and the largest predicted cluster."""
    predicted = _pairs({i: c for i, c in cluster_of.items() if i in truth})
    gold = _pairs(truth)
    tp = len(predicted & gold)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(gold) if gold else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    largest = max(Counter(cluster_of.values()).values(), default=0)
    return PairScores(p, r, f, largest)
