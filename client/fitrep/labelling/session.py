"""A labelling session: which pair comes next, what a y / n / skip / undo does, when to refit.

Everything is a function of the label file, so a restart continues where the last session
stopped and undo is exact: the model is the layer fitted on the first ``every * k`` labels
(k whole rounds), and the next pair is the most uncertain undecided one under that model that
touches no cluster the current round already asked about (``selection``). The loop reads its
answers from any text stream (stdin, or a script in tests) and shows pairs through a view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TextIO

from rich.console import Console

from fitrep.domain import Explanation
from fitrep.labelling.labels import Answer, LabelLog
from fitrep.labelling.pool import CandidatePool
from fitrep.labelling.selection import margins, select
from index_server.scoring.calibration import Calibration
from index_server.scoring.calibration_layer import CalibrationLayer, LayerPrior, fit_layer

ANSWERS = {"y": 1, "yes": 1, "n": 0, "no": 0, "s": None, "skip": None}
HELP = "y = duplicates, n = not duplicates, s = skip, u = undo, q = quit"


class PairView(Protocol):
    def show(self, exp: Explanation, probability: float, threshold: float, header: str) -> None:
        """Show one pair: ``probability`` under the current model, ``exp`` under the base."""


class LabelSession:
    """The pool, the answers so far and the layered model fitted on them."""

    def __init__(
        self,
        pool: CandidatePool,
        log: LabelLog,
        base: Calibration,
        every: int = 10,
        prior: LayerPrior | None = None,
        on_refit: Callable[[Calibration], None] | None = None,
        notes: Mapping[str, object] | None = None,
    ) -> None:
        """``on_refit`` receives the layered calibration whenever the labels it is fitted on
        change (every ``every`` labels, an undo across a round, a resume)."""
        self.pool, self.log, self.base, self.every = pool, log, base, every
        self.prior = prior or LayerPrior()
        self.on_refit = on_refit
        self.notes = dict(notes or {})
        self._fits: dict[int, CalibrationLayer] = {0: CalibrationLayer()}
        self.written = 0  # labels behind the calibration last handed to on_refit
        self.refit()

    def _usable(self) -> list[Answer]:
        """Labels of pairs in the pool (a label about an item gone from the run is kept in
        the file but not used)."""
        return [a for a in self.log.labelled() if a.key in self.pool.position]

    @property
    def fitted_on(self) -> int:
        """How many labels the current model was fitted on: whole rounds of ``every``."""
        n = len(self._usable())
        return n - n % self.every

    def layer(self) -> CalibrationLayer:
        n = self.fitted_on
        if n not in self._fits:
            labels = self._usable()[:n]
            idx = [self.pool.position[a.key] for a in labels]
            self._fits[n] = fit_layer(
                self.pool.base_logits[idx],
                [self.pool.rows[i] for i in idx],
                [int(a.label or 0) for a in labels],
                reference=self.pool.rows,
                prior=self.prior,
            )
        return self._fits[n]

    def calibration(self) -> Calibration:
        return self.layer().layered(self.base, self.notes)

    def probabilities(self) -> list[float]:
        """Each pool pair's duplicate probability under the current model."""
        return self.layer().probabilities(self.pool.base_logits, self.pool.rows).tolist()

    def refit(self) -> bool:
        """Hand the model to ``on_refit`` if its labels changed since; whether it did."""
        if self.fitted_on == self.written:
            return False
        self.written = self.fitted_on
        if self.on_refit is not None:
            self.on_refit(self.calibration())
        return True

    def next_pair(self) -> int | None:
        """The pool index of the pair to ask about next; None when every pair is decided."""
        pool, answers = self.pool, self.log.answers
        # The round began right after the label the current model was last fitted up to.
        start, seen = 0, 0
        if self.fitted_on:
            usable = {id(a) for a in self._usable()}  # by identity: a pair may recur in the file
            for pos, a in enumerate(answers):
                seen += id(a) in usable
                if seen == self.fitted_on:
                    start = pos + 1
                    break
        decided = {pool.position[k] for k in self.log.decided() if k in pool.position}
        blocked = {g for a in answers[start:] if a.key in pool.position
                   for g in pool.groups[pool.position[a.key]]}  # fmt: skip
        logit = self.layer().logits(pool.base_logits, pool.rows)
        found = select(margins(logit, self.base.threshold), pool.groups, 1, decided, blocked)
        return found[0] if found else None

    def answer(self, index: int, label: int | None) -> bool:
        """Record ``label`` (None: skip) for pool pair ``index``; whether the model was refit."""
        exp = self.pool.pairs[index]
        self.log.add(Answer(exp.item_a, exp.item_b, label))
        return self.refit()

    def undo(self) -> Answer | None:
        undone = self.log.undo()
        self.refit()
        return undone


@dataclass
class Outcome:
    labels: int  # labelled pairs in the file (skips not counted)
    duplicates: int
    fitted_on: int  # labels behind the written calibration


def run_loop(session: LabelSession, view: PairView, answers: TextIO, console: Console) -> Outcome:
    """Ask about pairs until quit, end of input or no pair left; every answer is saved."""
    while True:
        index = session.next_pair()
        if index is None:
            console.print("every candidate pair is decided")
            break
        labelled = session.log.labelled()
        header = (
            f"pair {len(session.log) + 1} · {len(labelled)} labelled · "
            f"model fitted on {session.fitted_on} · refit every {session.every}"
        )
        p = session.probabilities()[index]
        view.show(session.pool.pairs[index], p, session.base.threshold, header)
        console.print(f"[bold]duplicates?[/] ({HELP}) ", end="")
        line = answers.readline()
        if not line:
            console.print()
            break
        command = line.strip().lower()
        if not answers.isatty():
            console.print(command, highlight=False)  # a scripted answer: show it as typed
        if command in ("q", "quit"):
            break
        if command in ("u", "undo"):
            undone = session.undo()
            console.print(
                f"undid {undone.item_a} / {undone.item_b}" if undone else "nothing to undo",
                highlight=False,
            )
            continue
        if command not in ANSWERS:
            console.print(f"[yellow]?[/] {HELP}")
            continue
        if session.answer(index, ANSWERS[command]):
            console.print(f"[green]refitted[/] on {session.fitted_on} labels", highlight=False)
    labelled = session.log.labelled()
    return Outcome(len(labelled), sum(a.label == 1 for a in labelled), session.fitted_on)
