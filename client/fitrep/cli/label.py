"""``fitrep label RUN``: label a run's most uncertain pairs; refit a per-catalogue calibration."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from fitrep.cli import app
from fitrep.cli.errors import message_console, user_errors
from fitrep.cli.progress import console, stage_progress
from fitrep.run_dir import LABEL_CALIBRATION, LABELS

_out = message_console(stderr=False)  # the pairs and the prompt, where answers are typed


@app.command()
def label(
    run: Path = typer.Argument(..., metavar="RUN", help="A `fitrep dedup --out` directory."),
    labels: Path | None = typer.Option(
        None, help=f"Label file, one JSON line per answer (default RUN/{LABELS})."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help=f"Calibration to write, for `fitrep dedup --calibration` (default "
        f"RUN/{LABEL_CALIBRATION}).",
    ),
    every: int = typer.Option(10, min=1, help="Refit the calibration after this many labels."),
    neighbours: int = typer.Option(5, min=1, help="Retrieved candidates per item."),
    pool: int = typer.Option(1000, min=1, help="Candidate pairs nearest the threshold kept."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Show the run's most uncertain pairs side by side and ask: y / n / s(kip) / u(ndo) / q.

    Answers are saved as they are given (restarting continues after the last one); every
    EVERY labels a correction layered on the run's calibration is refitted and written to
    OUT. Rerun dedup with it: fitrep dedup FILE --calibration OUT --out RUN.
    """
    from fitrep.labelling.labels import LabelLog
    from fitrep.labelling.pool import gather
    from fitrep.labelling.run import LAYERED_ON, open_run
    from fitrep.labelling.session import LabelSession, run_loop
    from fitrep.labelling.view import RichPairView
    from index_server.config import IndexConfig
    from index_server.engine import IndexEngine

    with user_errors():
        folder = open_run(run)
        labels_path = labels or run / LABELS
        out_path = out or run / LABEL_CALIBRATION
        log = LabelLog(labels_path)
        if log.torn:
            console.print(f"[yellow]warning:[/] dropped a half-written last line of {labels_path}")
        items, warning = folder.records()
        if warning:
            console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        engine = IndexEngine(run / "index", IndexConfig(calibration=folder.base_path))
        try:
            with stage_progress(progress) as report:
                candidates = gather(
                    engine,
                    folder.item_ids,
                    folder.base.threshold,
                    neighbours,
                    pool,
                    include=log.decided(),
                    progress=report,
                )
            notes = {
                LAYERED_ON: folder.base_name,
                "run": str(run.resolve()),
                "labels_file": str(labels_path.resolve()),
            }
            session = LabelSession(
                candidates,
                log,
                folder.base,
                every,
                on_refit=lambda c: c.save(out_path),
                notes=notes,
            )
            view = RichPairView(_out, items, engine.concepts_of)
            outcome = run_loop(session, view, sys.stdin, _out)
        finally:
            engine.close()
    console.print(
        f"{outcome.labels} labels ({outcome.duplicates} duplicates) in {labels_path}",
        highlight=False,
        soft_wrap=True,  # paths and commands stay whole, to copy
    )
    if outcome.fitted_on:
        console.print(
            f"calibration fitted on {outcome.fitted_on} labels: {out_path}\n"
            f"next: fitrep dedup {folder.manifest.get('input', 'FILE')} "
            f"--calibration {out_path} --out {run}",
            highlight=False,
            soft_wrap=True,
        )
