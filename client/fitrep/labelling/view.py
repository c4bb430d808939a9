"""One pair side by side in the terminal (rich): fields, concepts per level, level scores.

What a person needs to answer "same item?" without leaving the terminal: the records as the
catalogue holds them (fields, image path), what CHIE read from each (concepts per level),
and why the model is unsure (per-level cosines, the evidence and gates, the probability
against the threshold).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fitrep.domain import ALL_LEVELS, Explanation, Item

_TEXT_CHARS = 300  # a long description is cut: the title and attributes decide most pairs


def _short(text: str, limit: int = _TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _image(item: Item | None) -> str:
    if item is None or item.image is None:
        return "-"
    return str(item.image) if isinstance(item.image, Path) else f"({len(item.image)} bytes)"


class RichPairView:
    """Renders pairs on ``console``; ``items`` are the run's input records by id (empty when
    the input file is gone: the concepts still show), ``concepts`` the index's concept strings
    of an item by level name."""

    def __init__(
        self,
        console: Console,
        items: Mapping[str, Item],
        concepts: Callable[[str], Mapping[str, list[str]]],
    ) -> None:
        self.console = console
        self.items = items
        self.concepts = concepts

    def show(self, exp: Explanation, probability: float, threshold: float, header: str) -> None:
        a, b = self.items.get(exp.item_a), self.items.get(exp.item_b)
        table = Table(title=header, title_justify="left", show_lines=False, expand=True)
        table.add_column("", style="bold", no_wrap=True)
        table.add_column(escape(exp.item_a), ratio=1)
        table.add_column(escape(exp.item_b), ratio=1)
        table.add_row("cluster", exp.cluster_a or "-", exp.cluster_b or "-")
        if a is not None or b is not None:
            table.add_row("title", *(escape(it.title) if it else "" for it in (a, b)))
            if (a and a.text) or (b and b.text):
                table.add_row("text", *(escape(_short(it.text)) if it else "" for it in (a, b)))
            keys = sorted({*(a.attributes if a else {}), *(b.attributes if b else {})})
            for key in keys:
                table.add_row(
                    escape(key),
                    *(escape(it.attributes.get(key, "")) if it else "" for it in (a, b)),
                )
            table.add_row("image", escape(_image(a)), escape(_image(b)), end_section=True)
        ca, cb = self.concepts(exp.item_a), self.concepts(exp.item_b)
        for level in ALL_LEVELS:
            left, right = ca.get(level.name, []), cb.get(level.name, [])
            if left or right:
                table.add_row(
                    f"[dim]{level.name.lower()}[/]",
                    escape("; ".join(left)),
                    escape("; ".join(right)),
                )
        self.console.print(table)
        self.console.print(self._scores(exp), highlight=False)
        verdict = "duplicates" if probability >= threshold else "not duplicates"
        self.console.print(
            f"p(duplicate) [bold]{probability:.3f}[/] (base model {exp.score:.3f}) vs threshold "
            f"{threshold:.3f}: the model says [bold]{verdict}[/]",
            highlight=False,
        )

    @staticmethod
    def _scores(exp: Explanation) -> str:
        levels = ", ".join(
            f"{s.level.name.lower()} {s.similarity:.2f}" for s in exp.per_level if s.present
        )
        evidence = ", ".join(
            f"{k} {v:.2f}"
            for k, v in sorted(exp.features.items())
            if v and not k.startswith("cos_") and k != "weighted_cos"
        )
        fired = ", ".join(g.name for g in exp.gates if g.fired)
        return f"level cosines: {levels or '-'}\nevidence: {escape(evidence) or '-'}" + (
            f"\n[yellow]gates fired: {fired}[/]" if fired else ""
        )
