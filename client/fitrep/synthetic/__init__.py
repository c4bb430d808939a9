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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

SkuT = TypeVar("SkuT")


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


def distinct_skus(n_skus: int, line: Callable[[], Iterable[SkuT]]) -> list[SkuT]:
    """The first ``n_skus`` distinct SKUs of product lines drawn one after another by
    ``line`` (a template catalogue's grids: neighbours differ in one slot)."""
    skus: list[SkuT] = []
    seen: set[SkuT] = set()
    while len(skus) < n_skus:
        for sku in line():
            if sku not in seen and len(skus) < n_skus:
                seen.add(sku)
                skus.append(sku)
    return skus


def relisted_catalogue(
    name: str,
    prefix: str,
    seed: int,
    n_items: int,
    skus: Sequence[SkuT],
    title: Callable[[SkuT], str],
    relist: Callable[[SkuT], str],
    family: Callable[[SkuT], str],
    rng: random.Random,
) -> SyntheticCatalogue:
    """Every SKU once as ``title`` writes it, then re-listings (``relist``) of SKUs drawn by
    ``rng`` up to ``n_items`` rows, shuffled; ids ``<prefix><seed>-<row>``."""
    rows: list[tuple[str, int]] = [(title(s), k) for k, s in enumerate(skus)]
    while len(rows) < n_items:
        k = rng.randrange(len(skus))
        rows.append((relist(skus[k]), k))
    rng.shuffle(rows)
    out_rows: list[dict[str, object]] = []
    sku_of: dict[str, str] = {}
    family_of: dict[str, str] = {}
    for i, (text, k) in enumerate(rows):
        item = f"{prefix}{seed}-{i:06d}"
        out_rows.append({"id": item, "title": text})
        sku_of[item] = f"sku{k}"
        family_of[item] = family(skus[k])
    return SyntheticCatalogue(name, seed, out_rows, sku_of, family_of)


def rewrite(title: str, rng: random.Random, suffixes: Sequence[str], title_case: bool) -> str:
    """The same title in another casing (upper, lower, and title case where the script
    has it), with a marketing suffix, or both."""
    casing = rng.randrange(4 if title_case else 3)
    if casing == 1:
        title = title.upper()
    elif casing == 2:
        title = title.lower()
    elif casing == 3:
        title = title.title()
    if rng.random() < 0.5:
        title = f"{title} {rng.choice(('-', '|', ','))} {rng.choice(suffixes)}"
    return title


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
