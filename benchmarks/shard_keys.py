"""Which shard key keeps duplicates together? Amazon-Google catalogue, gold pairs.

For each candidate key, the share of the 1,300 gold duplicate pairs whose two items get the same
key (a pair split across shards is not found by that shard's join). Keys: the first brand the
`rules` backend extracts, and the IVF list of the item's retrieval vector (sqrt(level weight) x
level vector, PCA-32, k-means with k lists), for a few k. Used by docs/scaling.md.

    python benchmarks/shard_keys.py [--data ../shared/data/amazon-google-catalog]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import faiss
import numpy as np
from fitrep.domain import Item, Level

from index_server.engine import IndexEngine
from mllm_server.chie.engine import ConceptEngine

LEVELS = [lv for lv in Level if lv is not Level.VISUAL]


def catalogue(data: Path) -> list[Item]:
    items = []
    for prefix, table in (("a", "tableA.csv"), ("b", "tableB.csv")):
        with (data / table).open(encoding="latin-1") as fh:
            for r in csv.DictReader(fh):
                attrs = {k: r[k] for k in ("manufacturer", "price") if r.get(k, "").strip()}
                items.append(Item(f"{prefix}{r['id']}", r["title"], r["description"], None, attrs))
    return items


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/amazon-google-catalog"))
    args = ap.parse_args()
    items = catalogue(args.data)
    with (args.data / "gold.csv").open() as fh:
        gold = [(f"a{r['tableA_id']}", f"b{r['tableB_id']}") for r in csv.DictReader(fh)]
    engine = ConceptEngine.create("rules")
    embedded = engine.process(items)
    pos = {e.item_id: i for i, e in enumerate(embedded)}
    gold = [(a, b) for a, b in gold if a in pos and b in pos]

    weights = IndexEngine(None).info().level_weights
    dim = 384
    vecs = np.zeros((len(embedded), dim * len(LEVELS)), np.float32)
    for i, e in enumerate(embedded):
        for j, lv in enumerate(LEVELS):
            if lv in e.embeddings.vectors:
                w = np.sqrt(weights.get(lv.name, 0.0))
                vecs[i, j * dim : (j + 1) * dim] = w * e.embeddings.vectors[lv]
    pca = faiss.PCAMatrix(vecs.shape[1], 32)
    pca.train(vecs)
    reduced = np.ascontiguousarray(pca.apply(vecs))

    def share(key: list[object]) -> float:
        same = sum(1 for a, b in gold if key[pos[a]] is not None and key[pos[a]] == key[pos[b]])
        return same / len(gold)

    brand = [e.concepts.anchors.brand[0] if e.concepts.anchors.brand else None for e in embedded]
    print(f"items {len(items)}, gold pairs {len(gold)}")
    print(f"| first extracted brand | {len(set(brand))} keys | {share(brand):.3f} |")
    for k in (4, 16, 64):
        km = faiss.Kmeans(32, k, niter=20, seed=0)
        km.train(reduced)
        lists = km.index.search(reduced, 1)[1][:, 0].tolist()
        print(f"| IVF list of the PCA-32 vector, k = {k} | {k} keys | {share(lists):.3f} |")


if __name__ == "__main__":
    main()
