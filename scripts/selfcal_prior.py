"""Fit the shipped prior of the self-calibration (``index_server/scoring/selfcal_prior.json``).

    .venv/bin/python scripts/selfcal_prior.py [--data ../shared/data]

How often each comparison level occurs among the labelled duplicates (``m``) and the labelled
non-duplicates (``u``) of the train and valid splits the shipped calibration was fitted on
(the two product sets and the four other-domain sets; test splits are never read), each
domain weighted alike. Only the records' anchors are needed (rules backend, no encoder).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from fitrep.ditto import read_pairs

from index_server.scoring.catalogue_fit import PRIOR_PATH
from index_server.scoring.comparisons import COMPARISONS, level_matrix
from index_server.scoring.features import anchor_features
from index_server.scoring.self_calibration import LEVEL_NAMES, LEVELS
from mllm_server.chie.rules import RulesExtractor

ROOT = Path(__file__).resolve().parents[1]
SETS = (
    "abt-buy",
    "amazon-google-pairs",
    "other-domains/beer",
    "other-domains/fodors-zagats",
    "other-domains/itunes-amazon",
    "other-domains/dblp-acm",
)


def domain_counts(data: Path, name: str, rules: RulesExtractor) -> tuple[np.ndarray, ...]:
    """(duplicate level counts (K, L), non-duplicate counts, duplicates, pairs) of a set."""
    m = np.zeros((len(COMPARISONS), LEVELS))
    u = np.zeros_like(m)
    dups = pairs = 0
    for split in ("train", "valid"):
        pf = read_pairs(data / name / f"{split}.txt")
        anchors = [c.anchors for c in rules.extract(pf.items)]
        sides = [(anchors[a], anchors[b]) for a, b in pf.pairs]
        feats = [anchor_features(a, b) for a, b in sides]
        levels = level_matrix(sides, feats)
        labels = np.array([bool(x) for x in pf.labels])
        onehot = np.eye(LEVELS)[levels]
        m += onehot[labels].sum(axis=0)
        u += onehot[~labels].sum(axis=0)
        dups += int(labels.sum())
        pairs += len(labels)
    return m, u, np.array(dups), np.array(pairs)


def _smoothed(counts: np.ndarray, pooled: np.ndarray, strength: float = 20.0) -> np.ndarray:
    """Frequencies per row, shrunk towards the pooled (both classes) frequencies: a level
    seldom seen in either class gets m = u (weight 0), not a ratio of two pseudo-counts."""
    share = (pooled + 0.5) / (pooled + 0.5).sum(axis=1, keepdims=True)
    return (counts + strength * share) / (counts.sum(axis=1, keepdims=True) + strength)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=PRIOR_PATH)
    args = parser.parse_args()
    rules = RulesExtractor(use_images=False)
    m_sum = np.zeros((len(COMPARISONS), LEVELS))
    u_sum = np.zeros_like(m_sum)
    shares = []
    for name in SETS:
        m, u, dups, pairs = domain_counts(args.data, name, rules)
        m_sum += _smoothed(m, m + u)
        u_sum += _smoothed(u, m + u)
        shares.append(float(dups) / float(pairs))
    m_avg, u_avg = m_sum / len(SETS), u_sum / len(SETS)
    out = {
        "comparisons": list(COMPARISONS),
        "levels": list(LEVEL_NAMES),
        "m": [[round(float(v), 5) for v in row] for row in m_avg],
        "u": [[round(float(v), 5) for v in row] for row in u_avg],
        "lambda": round(float(np.mean(shares)), 5),
        "notes": {
            "command": "python scripts/selfcal_prior.py",
            "fitted_on": [f"{s}/{split}.txt" for s in SETS for split in ("train", "valid")],
            "domains_balanced": True,
            "test_splits_used": "none",
        },
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
