"""``fitrep match`` (decide the pairs of a pair file) and ``fitrep calibrate`` (fit the
calibration from labelled pair files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fitrep.cli import app
from fitrep.cli.errors import user_errors
from fitrep.cli.inputs import ENCODER_HELP, checked_encoder
from fitrep.cli.progress import console, stage_progress
from fitrep.defaults import BATCH_SIZE

if TYPE_CHECKING:
    from mllm_server.chie.engine import ConceptEngine


def _concept_engine(encoder: str | None, ocr: str = "auto") -> ConceptEngine:
    from mllm_server.chie.engine import ConceptEngine

    return ConceptEngine.create("rules", encoder=checked_encoder(encoder), ocr=ocr)


def _embed_pair_file(  # type: ignore[no-untyped-def]
    path: Path, encoding: str, progress: bool, engine: ConceptEngine
):
    from fitrep.ditto import read_pairs
    from index_server.scoring.pairs import PairTable

    pair_file = read_pairs(path, encoding)
    embedded = []
    with stage_progress(progress) as report:
        for start in range(0, len(pair_file.items), BATCH_SIZE):
            embedded.extend(engine.process(pair_file.items[start : start + BATCH_SIZE]))
            report(path.name, len(embedded), len(pair_file.items))
    return pair_file, PairTable(embedded)


def evenly_spaced(count: int, limit: int) -> list[int]:
    """Indices of at most ``limit`` of ``count`` lines, evenly spaced: the photos
    ``calibrate --image-limit`` fits on (``benchmarks/grocery.py`` leaves the same out)."""
    step = max(count / max(limit, 1), 1.0)
    return [int(i * step) for i in range(min(limit, count))]


@app.command()
def match(
    pairs_file: Path = typer.Argument(
        ..., metavar="PAIRS_FILE", help="Ditto pair file: LEFT<TAB>RIGHT[<TAB>LABEL]."
    ),
    out: Path = typer.Option(
        Path("decisions.jsonl"), "--out", "-o", help="One JSON line per pair."
    ),
    calibration: Path | None = typer.Option(None, help="Calibration JSON (default: shipped)."),
    encoding: str = typer.Option("utf-8", help="Text encoding of PAIRS_FILE."),
    adaptive: bool = typer.Option(
        True,
        help="Adapt the decision to this input without labels (mutual best matches, half the "
        "threshold); --no-adaptive: score >= the calibrated threshold.",
    ),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Decide every pair of PAIRS_FILE (the label column, if any, is never read)."""
    from index_server.scoring.calibration import Calibration
    from index_server.scoring.pairs import decide_pairs

    with user_errors():
        engine = _concept_engine(encoder)
        # the shipped calibration fitted on this encoder's vectors, unless one is given
        cal = Calibration.load(calibration, encoder=engine.encoder.name)
        pair_file, table = _embed_pair_file(pairs_file, encoding, progress, engine)
        scores = table.probabilities(pair_file.pairs, cal)
        decisions = decide_pairs(pair_file.pairs, scores, cal.threshold, adaptive)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as fh:
            for i, (p, dup) in enumerate(zip(scores.tolist(), decisions.tolist(), strict=True)):
                fh.write(
                    json.dumps({"line": i, "score": round(p, 6), "duplicate": bool(dup)}) + "\n"
                )
    console.print(f"{len(scores)} pairs, {int(decisions.sum())} duplicates -> {out}")


@app.command()
def calibrate(
    pairs_files: list[Path] = typer.Argument(
        ..., metavar="PAIRS_FILE", help="Labelled Ditto pair files (train/valid only)."
    ),
    out: Path = typer.Option(
        Path("calibration.json"),
        "--out",
        "-o",
        help="Calibration JSON to write, for `fitrep dedup --calibration`.",
    ),
    encoding: str = typer.Option("utf-8", help="Text encoding of the pair files."),
    c: float = typer.Option(1.0, "--C", help="Inverse L2 regularisation of the logistic fit."),
    image_list: Path | None = typer.Option(
        None,
        help="Labelled photos, lines 'PATH, LABEL[, ...]' (PATH relative to the list): photos with "
        "one label are duplicates, all other pairs are not. Fits the image-only evidence.",
    ),
    image_limit: int = typer.Option(200, help="Photos of --image-list used (evenly spaced)."),
    ocr: str = typer.Option(
        "auto",
        help="Also fit the --image-list photos with their words read (auto, on, off; as fitrep "
        "dedup). They are always fitted unread too, so one calibration serves both.",
    ),
    encoder: str | None = typer.Option(None, help=ENCODER_HELP),
    progress: bool = typer.Option(True, help="Show progress bars."),
    balance: bool = typer.Option(
        True,
        help="Weigh every domain (a pair file's folder; the photo list) the same, so one large "
        "set does not decide the model the others are judged by.",
    ),
) -> None:
    """Fit level weights, coefficients and the threshold from labelled pairs; write OUT."""
    from fitrep.domain import InvalidInput
    from index_server.scoring.calibration_fit import fit_calibration

    with user_errors():
        rows: list[dict[str, float]] = []
        labels: list[int] = []
        domains: list[str] = []
        if image_list is not None:
            from mllm_server.chie.ocr import wants_ocr

            # Pixel-only pairs (--ocr off, or no [ocr] extra) and read ones are two populations
            # the one calibration must serve: e.g. the image-only shift is fitted on the first.
            for mode in ["off", "on"] if wants_ocr(ocr) else ["off"]:
                img_rows, img_labels = _image_pairs(image_list, image_limit, mode, encoder)
                rows.extend(img_rows)
                labels.extend(img_labels)
                domains.extend(["photos"] * len(img_rows))
        engine = _concept_engine(encoder)
        for path in pairs_files:
            pair_file, table = _embed_pair_file(path, encoding, progress, engine)
            if any(label is None for label in pair_file.labels):
                raise InvalidInput(str(path), "every pair needs a 0/1 label to calibrate")
            rows.extend(table.features(pair_file.pairs))
            labels.extend(int(label or 0) for label in pair_file.labels)
            domains.extend([path.resolve().parent.name] * len(pair_file.pairs))
        fitted_on = [str(p) for p in pairs_files] + ([str(image_list)] if image_list else [])
        cal = fit_calibration(
            rows, labels, notes={"fitted_on": fitted_on}, c=c, domains=domains if balance else None
        )
        cal.encoder = engine.encoder.name  # its coefficients read this encoder's cosines
        cal.save(out)
    console.print(
        f"fitted on {len(labels)} pairs: threshold {cal.threshold:.3f}, "
        f"out-of-fold F1 {cal.notes['out_of_fold_f1']} -> {out}"
    )


def _image_pairs(
    path: Path, limit: int, ocr: str = "auto", encoder: str | None = None
) -> tuple[list[dict[str, float]], list[int]]:
    """Features and labels of every pair among up to ``limit`` labelled photos."""
    from fitrep.domain import InvalidInput, Item
    from index_server.scoring.pairs import PairTable

    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except FileNotFoundError:
        raise InvalidInput(str(path), "file not found") from None
    chosen = [lines[i] for i in evenly_spaced(len(lines), limit)]
    items, classes = [], []
    for i, line in enumerate(chosen):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            raise InvalidInput(f"{path}", f"line {line!r}: expected 'PATH, LABEL'")
        image = Path(parts[0]) if Path(parts[0]).is_absolute() else path.parent / parts[0]
        if not image.exists():
            raise InvalidInput(f"{path}", f"image file not found: {image}")
        items.append(Item(id=f"img{i}", image=image))
        classes.append(parts[1])
    table = PairTable(_concept_engine(encoder, ocr=ocr).process(items))
    pairs = [(a, b) for a in range(len(items)) for b in range(a + 1, len(items))]
    return table.features(pairs), [int(classes[a] == classes[b]) for a, b in pairs]
