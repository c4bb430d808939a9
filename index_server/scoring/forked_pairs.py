"""A chunk's planned pairs scored in forked processes, so a build's score phase uses every core.

The join asks for a row's pairs when it reaches the row (``chunk_pairs.ChunkPairs``), and
the pair features are Python: one core. The pairs a row will ask about first are known
when its chunk starts (``Clusterer._plan``: the cluster state does not move until the
compiled join writes the chunk back), so they can be scored before the join runs, in
``processes`` children forked with the chunk's state. Each child walks its share of the rows
in order and counts the tokens of rows 0..row before scoring a row, as the parent does
(``RowScorer.count_tokens``); each pair's scores do not depend on the pairs asked with it.
So the children's answers are the ones the parent would compute, and the join decides
exactly as without them (``tests/unit/test_forked_pairs.py``). The parent's own token counts
do not move. Fork only (Linux, macOS): elsewhere, or when a child fails, the chunk is scored
in the parent as before.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping, Sequence

import numpy as np

from index_server.scoring.bounds import ChunkScores
from index_server.scoring.row_scorer import RowScorer

log = logging.getLogger("fitrep.index")
Scored = dict[int, dict[int, tuple[float, float]]]  # chunk position -> other row -> (p, family)
# below this many planned pairs in a chunk, two forks cost more than they save
MIN_FORKED_PAIRS = 2048


def _score_share(
    scorer: RowScorer,
    scores: ChunkScores,
    lexical: Mapping[str, np.ndarray],
    plans: Mapping[int, Sequence[int]],
    rows: Sequence[int],
    share: Sequence[int],
) -> Scored:
    out: Scored = {}
    for i in share:  # ascending: the token counts only move forward
        row, others = rows[i], list(plans[i])
        scorer.count_tokens(row + 1)
        probability, family = scorer.chunk_score(scores, lexical, i, row, others)
        pairs = zip(probability.tolist(), family.tolist(), strict=True)
        out[i] = dict(zip(others, pairs, strict=True))
    return out


def _read_all(fd: int) -> bytes:
    chunks = []
    while block := os.read(fd, 1 << 20):
        chunks.append(block)
    os.close(fd)
    return b"".join(chunks)


def score_forked(
    scorer: RowScorer,
    scores: ChunkScores,
    lexical: Mapping[str, np.ndarray],
    plans: Mapping[int, Sequence[int]],
    rows: Sequence[int],
    processes: int,
) -> tuple[Scored | None, float]:
    """Every ``plans[i]`` (chunk position -> other rows) of chunk ``rows`` scored in
    ``processes`` forked children, rows dealt out in turn, and the CPU seconds the children
    spent; None when fork is unavailable or a child failed (the caller scores in this
    process)."""
    if not hasattr(os, "fork") or processes < 2:
        return None, 0.0
    positions = sorted(i for i, plan in plans.items() if plan)
    children: list[tuple[int, int]] = []
    for k in range(processes):
        share = positions[k::processes]
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:  # no memory for another process, a limit on processes
            os.close(read_fd)
            os.close(write_fd)
            log.warning("event=forked_pairs_failed error=%s: scored in this process", exc)
            for pid, fd in children:
                _read_all(fd)
                os.waitpid(pid, 0)
            return None, 0.0
        if pid == 0:  # the child: score, send, leave without running the parent's exit code
            code = 1
            try:
                os.close(read_fd)
                got = _score_share(scorer, scores, lexical, plans, rows, share)
                payload = pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_fd, "wb") as out:
                    out.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(write_fd)
        children.append((pid, read_fd))
    merged: Scored = {}
    failed, cpu = False, 0.0
    for pid, read_fd in children:
        payload = _read_all(read_fd)  # read before waiting: a full pipe would block the child
        _, status, usage = os.wait4(pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
        if os.waitstatus_to_exitcode(status) != 0 or not payload:
            failed = True
            continue
        merged.update(pickle.loads(payload))
    if failed:
        log.warning("event=forked_pairs_failed processes=%d: scored in this process", processes)
        return None, cpu
    return merged, cpu
