"""Mutation testing of the clustering, the variant gates and the upsert plan, bounded.

    python tests/mutation/run.py TARGET --commit REV --out DIR [--sample N] [--rerun DB]

Runs cosmic-ray over one TARGET (a few modules) in a copy of the tree at REV (``git archive``,
so the checkout is never mutated), with the fast unit tests that exercise those modules (those
of the list below that exist at REV; the join's tests of the real encoder are left out, to keep
a mutant to seconds), one mutant at a time, each capped at ``--timeout`` seconds.
``--sample N``: a seeded random sample of N mutants (the same mutants for the same
source, whatever the tests). ``--rerun DB``: only the mutants that survived in an earlier run's
DB (tests only added since: a killed mutant stays killed). Prints the counts and writes the
survivors (file:line, operator, diff) to DIR/TARGET-survivors.txt. Needs cosmic-ray
(``pip install cosmic-ray``) in the environment that runs this script.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

UNIT = "tests/unit/"
TARGETS: dict[str, tuple[list[str], list[str]]] = {
    # target: (modules, tests that exercise them)
    "gates": (
        ["index_server/scoring/variant_gates.py"],
        ["test_variant_gates.py", "test_verify.py", "test_gate_consistency.py"],
    ),
    "upserts": (
        ["index_server/upserts.py"],
        ["test_upsert.py", "test_upsert_content.py"],
    ),
    "representative": (
        ["index_server/clustering/representative.py"],
        ["test_representative.py", "test_representative_ranking.py"],
    ),
    "join": (
        [
            "index_server/clustering/join_rule.py",
            "index_server/clustering/decision.py",
            "index_server/clustering/cluster_ids.py",
        ],
        [
            "test_join_reference.py",
            "test_join_batch.py",
            "test_join_rule.py::test_a_chain_of_siblings_cannot_drift_from_the_first_member",
            "test_join_rule.py::test_a_conflict_with_any_member_blocks_the_join_even_unchecked",
            "test_join_rule.py::test_a_variant_opens_a_cluster_in_its_siblings_family",
            "test_join_decisions.py",
        ],
    ),
    "batch": (
        ["index_server/clustering/batch_join.py", "index_server/clustering/join_kernel.py"],
        ["test_join_batch.py", "test_join_reference.py", "test_join_decisions.py"],
    ),
    "clusterer": (
        ["index_server/clustering/clusterer.py", "index_server/clustering/decision_log.py"],
        ["test_engine.py", "test_assignment_report.py"],
    ),
}


def _key(item) -> tuple[str, str, int]:
    (m,) = item.mutations
    return (str(m.module_path), m.operator_name, m.occurrence)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("target", choices=sorted(TARGETS))
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--sample", type=int, default=0, help="0: every mutant")
    p.add_argument("--seed", type=int, default=24)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--rerun", type=Path, help="a DB of an earlier run: its survivors only")
    args = p.parse_args()

    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    modules, tests = TARGETS[args.target]
    out = args.out.resolve()
    tree = out / f"{args.target}-tree"
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", args.commit], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    selected = [UNIT + t for t in tests if (tree / UNIT / t.split("::")[0]).exists()]
    command = "python -m pytest -x -q -p no:cacheprovider " + " ".join(selected)
    config = out / f"{args.target}.toml"
    paths = ", ".join(f'"{m}"' for m in modules)
    config.write_text(
        f"[cosmic-ray]\nmodule-path = [{paths}]\ntimeout = {args.timeout}\n"
        f'excluded-modules = []\ntest-command = "{command}"\n\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    db_path = out / f"{args.target}.sqlite"
    db_path.unlink(missing_ok=True)
    subprocess.run(["cosmic-ray", "init", str(config), str(db_path)], cwd=tree, check=True)

    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = sorted(db.work_items, key=_key)
        keep = {_key(i) for i in items}
        if args.sample and args.sample < len(items):
            keep = {_key(i) for i in random.Random(args.seed).sample(items, args.sample)}
        if args.rerun:
            with use_db(str(args.rerun), WorkDB.Mode.open) as old:
                by_id = {i.job_id: _key(i) for i in old.work_items}
                keep &= {
                    by_id[job] for job, r in old.results if r.test_outcome == TestOutcome.SURVIVED
                }
        skip = [i.job_id for i in items if _key(i) not in keep]
        db.set_multiple_results(
            skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not sampled")
        )
        total = len(items)
    print(f"{args.target}: {total} mutants, running {len(keep)}: {command}", flush=True)
    subprocess.run(["cosmic-ray", "exec", str(config), str(db_path)], cwd=tree, check=True)

    with use_db(str(db_path), WorkDB.Mode.open) as db:
        items = {i.job_id: i for i in db.work_items}
        ran = [(items[j], r) for j, r in db.results if r.worker_outcome != WorkerOutcome.SKIPPED]
    survived = [(i, r) for i, r in ran if r.test_outcome == TestOutcome.SURVIVED]
    lines = []
    for item, result in sorted(survived, key=lambda ir: (_key(ir[0]), ir[0].job_id)):
        (m,) = item.mutations
        lines.append(f"## {m.module_path}:{m.start_pos[0]} {m.operator_name} #{m.occurrence}")
        lines.append(result.diff or "")
    (out / f"{args.target}-survivors.txt").write_text("\n".join(lines) + "\n")
    killed = sum(r.test_outcome == TestOutcome.KILLED for _, r in ran)
    incompetent = sum(r.test_outcome == TestOutcome.INCOMPETENT for _, r in ran)
    print(
        f"{args.target}: ran {len(ran)} of {total}; killed {killed}, survived {len(survived)},"
        f" incompetent {incompetent}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
