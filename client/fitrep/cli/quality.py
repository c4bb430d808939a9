"""``fitrep match`` (decide the pairs of a pair file) and ``fitrep calibrate`` (fit the
calibration from labelled pair files)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fitrep.cli import app
from fitrep.cli.errors import user_errors
from fitrep.cli.progress import console, stage_progress


def _embed_pair_file(path: Path, encoding: str, progress: bool):  # type: ignore[no-untyped-def]
    from fitrep.ditto import read_pairs
    from index_server.pair_scoring import PairTable
    from mllm_server.chie.engine import ConceptEngine

    pair_file = read_pairs(path, encoding)
    engine = ConceptEngine.create("rules")
    embedded = []
    with stage_progress(progress) as report:
        for start in range(0, len(pair_file.items), 256):
            embedded.extend(engine.process(pair_file.items[start : start + 256]))
            report(path.name, len(embedded), len(pair_file.items))
    return pair_file, PairTable(embedded)


@app.command()
def match(
    pairs_file: Path = typer.Argument(..., help="Ditto pair file: LEFT<TAB>RIGHT[<TAB>LABEL]."),
    out: Path = typer.Option(Path("decisions.jsonl"), "--out", "-o", help="One JSON line per pair."),
    calibration: Path | None = typer.Option(None, help="Calibration JSON (default: shipped)."),
    encoding: str = typer.Option("utf-8", help="Text encoding of PAIRS_FILE."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Decide every pair of PAIRS_FILE (the label column, if any, is never read)."""
    from index_server.calibration import Calibration

    with user_errors():
        cal = Calibration.load(calibration)
        pair_file, table = _embed_pair_file(pairs_file, encoding, progress)
        scores = table.probabilities(pair_file.pairs, cal)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as fh:
            for i, p in enumerate(scores.tolist()):
                fh.write(json.dumps({"line": i, "score": round(p, 6), "duplicate": p >= cal.threshold}) + "\n")
    console.print(f"{len(scores)} pairs, {int((scores >= cal.threshold).sum())} duplicates -> {out}")


@app.command()
def calibrate(
    pairs_files: list[Path] = typer.Argument(..., help="Labelled Ditto pair files (train/valid only)."),
    out: Path = typer.Option(
        Path("index_server/calibration.json"), "--out", "-o", help="Calibration JSON to write."
    ),
    encoding: str = typer.Option("utf-8", help="Text encoding of the pair files."),
    c: float = typer.Option(1.0, "--C", help="Inverse L2 regularisation of the logistic fit."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Fit level weights, coefficients and the threshold from labelled pairs; write OUT."""
    from fitrep.domain import InvalidInput
    from index_server.calibration_fit import fit_calibration

    with user_errors():
        rows: list[dict[str, float]] = []
        labels: list[int] = []
        for path in pairs_files:
            pair_file, table = _embed_pair_file(path, encoding, progress)
            if any(label is None for label in pair_file.labels):
                raise InvalidInput(str(path), "every pair needs a 0/1 label to calibrate")
            rows.extend(table.features(pair_file.pairs))
            labels.extend(int(label or 0) for label in pair_file.labels)
        cal = fit_calibration(rows, labels, notes={"fitted_on": [str(p) for p in pairs_files]}, c=c)
        cal.save(out)
    console.print(
        f"fitted on {len(labels)} pairs: threshold {cal.threshold:.3f}, "
        f"out-of-fold F1 {cal.notes['out_of_fold_f1']} -> {out}"
    )
