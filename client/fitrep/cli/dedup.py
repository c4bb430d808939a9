"""``fitrep dedup FILE``: the embedded default — the whole pipeline in-process, no servers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from fitrep.cli import app
from fitrep.cli.errors import message_console, user_errors
from fitrep.cli.inputs import (
    DEDUP_ENCODER_HELP,
    auto_encoder_note,
    check_out_dir,
    check_rank_column,
    checked_encoder,
    load_items,
)
from fitrep.cli.progress import console, stage_progress
from fitrep.columns import ColumnRoles, infer_roles, parse_columns
from fitrep.domain import InvalidInput
from fitrep.output import check_format, summarise, write_clusters
from fitrep.readers import Catalogue
from fitrep.report import write_report
from fitrep.run_dir import StagingDir, check_replaceable, file_sha256, recover
from fitrep.stage_clock import StageClock
from index_server.config import DEFAULT_REPRESENTATIVE, SELF_CALIBRATION_SCOPES, IndexConfig

_err = message_console()


@app.command()
def dedup(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="Catalogue: .jsonl, .csv or .parquet with id and title/text/image.",
    ),
    out: Path = typer.Option(Path("runs/latest"), "--out", "-o", help="Output directory."),
    fmt: str = typer.Option(
        "jsonl",
        "--format",
        help="parquet: also write clusters.parquet (clusters.jsonl is always written).",
    ),
    encoding: str = typer.Option("utf-8", help="Text encoding of FILE (e.g. latin-1)."),
    calibration: Path | None = typer.Option(None, help="Calibration JSON (default: shipped)."),
    backend: str = typer.Option("rules", help="CHIE backend."),
    engine: str = typer.Option(
        "embedded", help="embedded (in-process) or ray (CHIE on a Ray Data actor pool)."
    ),
    address: str | None = typer.Option(
        None, help="--engine ray: cluster address; default: start a local Ray."
    ),
    actors: int | None = typer.Option(
        None, help="--engine ray: CHIE actors (default: one per GPU for vllm, CPUs - 1 for rules)."
    ),
    actor_cpus: float | None = typer.Option(None, help="--engine ray: CPUs per actor (1)."),
    ocr: str = typer.Option(
        "auto",
        help="Read the words on item pictures (rules backend; docs/ocr.md): auto = when items "
        "have images and the ocr extra is installed, on, off. About 0.3 s per new picture "
        "on 2 cores; cached per image.",
    ),
    encoder: str | None = typer.Option(None, help=DEDUP_ENCODER_HELP),
    progress: bool = typer.Option(True, help="Show progress bars."),
    workers: int | None = typer.Option(
        None,
        min=1,
        help="Processes that extract concepts while this one encodes (embedded engine, rules "
        "backend; default: one per core when the catalogue has 2,048 items or more; 1: none).",
    ),
    skip_bad: bool = typer.Option(
        False,
        "--skip-bad",
        help="Skip bad lines and keep items with an unreadable image without it (warns with "
        "a count; summary.json lists each).",
    ),
    representative: str = typer.Option(
        DEFAULT_REPRESENTATIVE,
        help="Which member stands for a cluster: first, most-complete (most filled fields, "
        "then the largest image) or column:NAME (highest value of that column).",
    ),
    self_calibration: str = typer.Option(
        SELF_CALIBRATION_SCOPES[0],
        help="The catalogue's own match weights, fitted at build: substitutions (a brand, "
        "colour or size substitution may count for more against), all (every level) or off "
        "(the shipped calibration alone).",
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="Column roles NAME=ROLE,... (identity, listing, text, ignore). Listing columns "
        "(price, rating, stock, seller, URL, dates ...) are never evidence of identity; roles "
        "not given are inferred from column names and the data (summary.json says why).",
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Continue an interrupted run into the same --out from its checkpointed concepts.",
    ),
) -> None:
    """Find near-duplicates in FILE; write clusters.jsonl, report.html and the index.

    The run is built in OUT.partial and swapped in at OUT only when complete, so a killed run
    leaves the previous complete run at OUT.
    """
    with user_errors():
        started = time.perf_counter()
        # a bad --representative or --self-calibration fails before any work
        policy = IndexConfig(
            representative=representative, self_calibration=self_calibration
        ).policy
        overrides = parse_columns(columns)
        check_format(fmt)
        check_out_dir(out)
        recover(out)
        check_replaceable(out)
        options = _backend_options(backend, ocr)
        checked_encoder(encoder, items=0)  # a bad name fails before the catalogue is read
        catalogue = load_items(file, encoding, skip_bad)
        chosen = checked_encoder(encoder, items=len(catalogue.items))
        backend_options = {**options, "encoder": chosen}
        roles = infer_roles(catalogue.items, overrides)
        if policy.kind == "column":
            check_rank_column(policy.column, catalogue, file)
        manifest = {
            **_manifest(file, encoding, calibration, backend, skip_bad, representative),
            "ocr": ocr,
            "columns": columns or "",
            "encoder": backend_options["encoder"],
        }
        staging = StagingDir(out, manifest, resume)  # a refused --resume is the first line
        try:
            if note := auto_encoder_note(encoder, chosen, len(catalogue.items)):
                console.print(note)
            _say_staging(staging, resume)
            config = IndexConfig(
                calibration=calibration,
                representative=representative,
                self_calibration=self_calibration,
            )
            summary = _run(
                staging, catalogue, file, engine, backend, config, progress, started,
                address=address, actors=actors, actor_cpus=actor_cpus,
                backend_options=backend_options, roles=roles, workers=workers, fmt=fmt,
            )  # fmt: skip
            staging.commit()
        finally:
            staging.release()
    # soft_wrap: a narrow terminal folds the line between words, never inside a number
    console.print(
        f"[bold]{summary['items']}[/] items -> [bold]{summary['clusters']}[/] clusters "
        f"in {summary['families']} families, "
        f"[bold]{summary['duplicates']}[/] duplicates found "
        f"(largest cluster {summary['largest_cluster']}) in {summary['seconds']} s",
        soft_wrap=True,
    )
    parquet = f" and {out / 'clusters.parquet'}" if fmt == "parquet" else ""
    console.print(
        f"clusters: {out / 'clusters.jsonl'}{parquet}\nreport:   {out / 'report.html'}",
        soft_wrap=True,
    )


def _manifest(
    file: Path,
    encoding: str,
    calibration: Path | None,
    backend: str,
    skip_bad: bool,
    representative: str,
) -> dict[str, object]:
    """What the result depends on: a resume must find the same (the engine does not matter:
    both give the same clusters)."""
    return {
        "input": str(file.resolve()),
        "input_sha256": file_sha256(file),
        "encoding": encoding,
        "backend": backend,
        "calibration": str(calibration or "shipped"),
        "calibration_sha256": file_sha256(calibration) if calibration else "",
        "skip_bad": skip_bad,
        "representative": representative,
    }


def _backend_options(backend: str, ocr: str) -> dict[str, object]:
    """``--ocr`` is the rules backend's (the vllm backend reads pictures itself); an unknown
    mode, or ``on`` without the extra, is one clear line before any work starts."""
    from mllm_server.chie.ocr import wants_ocr

    if backend != "rules":
        if ocr == "on":
            raise InvalidInput("--ocr", f"on applies to the rules backend, not {backend!r}")
        return {}
    wants_ocr(ocr)
    return {"ocr": ocr}


def _say_staging(staging: StagingDir, resume: bool) -> None:
    if staging.resumed:
        _err.print(f"resuming the unfinished run in {staging.path}", highlight=False)
    elif resume:
        _err.print(f"nothing to resume in {staging.path}: running from the start", highlight=False)
    elif staging.discarded:
        _err.print(
            f"discarded the unfinished run in {staging.path} (--resume continues one)",
            highlight=False,
        )


def _run(
    staging: StagingDir,
    catalogue: Catalogue,
    file: Path,
    engine: str,
    backend: str,
    config: IndexConfig,
    progress: bool,
    started: float,
    *,
    address: str | None,
    actors: int | None,
    actor_cpus: float | None,
    backend_options: dict[str, object],
    roles: ColumnRoles,
    workers: int | None = None,
    fmt: str = "jsonl",
) -> dict[str, object]:
    """Every output file of the run, written into ``staging.path``; returns the summary."""
    from fitrep.engines import create_engine

    run, out, items = staging.path, staging.out, catalogue.items
    calibration = config.calibration
    pipeline = create_engine(
        engine,
        staging.index_dir,
        backend,
        config,
        address=address,
        actors=actors,
        actor_cpus=actor_cpus,
        backend_options=backend_options,
        columns=roles,
        workers=workers,
    )
    checkpoint = staging.checkpoint()
    try:
        with stage_progress(progress) as report:
            clock = StageClock(report)
            assignments = pipeline.dedup(items, clock, checkpoint)
        elapsed = time.perf_counter() - started
        summary: dict[str, object] = {**summarise(assignments), "seconds": round(elapsed, 1)}
        worker_cpu = {"concepts": getattr(pipeline, "worker_cpu_seconds", 0.0)}
        summary["stages"] = clock.summary(worker_cpu)
        info = pipeline.index.info()
        summary["encoder"] = str(backend_options.get("encoder", ""))
        summary["reducer"] = info.reducer
        summary["faiss_index"] = info.faiss_index
        summary["self_calibration"] = pipeline.index.self_calibration.to_json()
        clock.mark("write")
        write_clusters(run, items, assignments, fmt=fmt)
        clock.mark("write")
        settings = {
            "input": str(file),
            "backend": backend,
            **backend_options,
            "engine": engine,
            "calibration": str(calibration or "shipped"),
            "representative": config.representative,
            "self_calibration_scope": config.self_calibration,
            "columns": "; ".join(roles.lines()) or "none",
            "threshold": info.threshold,
            "level_weights": info.level_weights,
        }
        # The report explains the joins of the clusters it shows (on click), only those: every
        # joined pair of a 100k run would cost ~80 s (~1.6 ms a pair).
        clock.mark("report")
        write_report(
            run / "report.html",
            items,
            assignments,
            {**summary, **settings},
            pipeline.index.concepts_of,  # read for the items the page shows only
            run_dir=out,  # the report's `fitrep explain --run` commands name where it ends up
            explain=pipeline.index.explain,
        )
        clock.mark("report")
        summary["stages"] = clock.summary(worker_cpu)
        # every line skipped and every image dropped, not only the first the warning names
        lists = {
            "skipped": [e.to_json() for e in catalogue.skipped],
            "images_dropped": [e.to_json() for e in catalogue.dropped_images],
        }
        summary_json = {**summary, "columns": roles.to_json(), **lists}
        (run / "summary.json").write_text(json.dumps(summary_json, indent=2) + "\n")
    finally:
        checkpoint.close()
        pipeline.close()
    return summary
