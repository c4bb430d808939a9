"""Commands that talk to the servers: ``fitrep serve``, ``fitrep assign``, ``fitrep explain``."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from fitrep.cli import app
from fitrep.cli.connect import Connection, TlsCa, TlsCert, TlsKey, Token, TokenFile
from fitrep.cli.errors import message_console, user_errors
from fitrep.cli.inputs import check_out_dir, load_items
from fitrep.cli.progress import console, stage_progress
from fitrep.columns import column_lines, infer_roles, parse_columns
from fitrep.defaults import (
    BATCH_SIZE,
    CONCEPT_ADDRESS,
    CONCEPT_PORT,
    INDEX_ADDRESS,
    INDEX_PORT,
)
from fitrep.domain import Anchors, Assignment, Explanation, InvalidInput
from fitrep.output import check_format, summarise, summarise_changes, write_clusters
from fitrep.rpc_errors import Unavailable
from index_server.config import DEFAULT_REPRESENTATIVE

T = TypeVar("T")
CONCEPT, INDEX = CONCEPT_ADDRESS, INDEX_ADDRESS
SERVE_DIR, ASSIGN_DIR = Path("runs/serve"), Path("runs/assign")
stdout = message_console(stderr=False)  # results; progress and errors go to stderr


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.command()
def serve(
    concept_port: Annotated[int, typer.Option(help="Port of the concept server.")] = CONCEPT_PORT,
    index_port: Annotated[int, typer.Option(help="Port of the index server.")] = INDEX_PORT,
    host: Annotated[str, typer.Option(help="Bind address; loopback by default.")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Index store directory.")] = SERVE_DIR,
    backend: Annotated[str, typer.Option(help="CHIE backend of the concept server.")] = "rules",
    backend_option: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE for the backend; repeatable.")
    ] = None,
    token: Token = None,
    token_file: TokenFile = None,
    metrics_port: Annotated[
        int,
        typer.Option(
            help="Prometheus /metrics of the concept server on this port and of the index "
            "server on the next one (0: off)."
        ),
    ] = 0,
    image_root: Annotated[
        Path | None,
        typer.Option(
            help="Directory whose images callers may name by path (image_uri); "
            "default: none, images travel as bytes."
        ),
    ] = None,
    representative: Annotated[
        str,
        typer.Option(help="Which member stands for a cluster: first, most-complete, column:NAME."),
    ] = DEFAULT_REPRESENTATIVE,
    startup_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for both servers to be healthy.")
    ] = 180.0,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Column roles NAME=ROLE,... for the concept server (identity, listing, text, "
            "ignore); the others by column name.",
        ),
    ] = None,
) -> None:
    """Run both gRPC servers on this machine until Ctrl-C, then stop them gracefully."""
    from fitrep.launch import LocalServers
    from index_server.config import IndexConfig

    servers = LocalServers(host, concept_port, index_port)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with user_errors():
        IndexConfig(representative=representative)  # a bad policy fails before the servers
        # The token reaches the children in their environment, never on a command line.
        token = Connection(token, token_file).resolved_token()
        concept_args = ["--columns", columns] if columns and parse_columns(columns) else []
        index_args = ["--representative", representative]
        if metrics_port:
            concept_args += ["--metrics-port", str(metrics_port)]
            index_args += ["--metrics-port", str(metrics_port + 1)]
        if image_root is not None:
            if not image_root.is_dir():
                raise InvalidInput("--image-root", f"{image_root} is not a directory")
            concept_args += ["--image-root", str(image_root)]
        try:
            servers.start(
                data_dir,
                backend,
                backend_option or [],
                token=token,
                concept_args=concept_args,
                index_args=index_args,
            )
            with console.status("starting servers (loading models)..."):
                servers.wait_healthy(startup_timeout, token)
            metrics = f" metrics=:{metrics_port},:{metrics_port + 1}" if metrics_port else ""
            console.print(
                f"[green]serving[/] concept=[bold]{servers.concept}[/] "
                f"index=[bold]{servers.index}[/] data_dir={data_dir}{metrics}  "
                "(Ctrl-C stops both)",
                soft_wrap=True,
            )
            while all(p.poll() is None for p in servers.processes.values()):
                time.sleep(0.5)
            down = [n for n, p in servers.processes.items() if p.poll() is not None]
            raise InvalidInput("serve", f"{', '.join(down)} stopped unexpectedly")
        except KeyboardInterrupt:
            console.print("stopping servers...")
        finally:
            codes = servers.stop()
    console.print(f"stopped ({', '.join(f'{n}={c}' for n, c in codes.items())})")


@app.command()
def assign(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="Catalogue: .jsonl, .csv or .parquet, as for dedup."),
    ],
    concept: Annotated[str, typer.Option(help="Concept server HOST:PORT.")] = CONCEPT,
    index: Annotated[str, typer.Option(help="Index server HOST:PORT.")] = INDEX,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = ASSIGN_DIR,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="parquet: also write clusters.parquet (clusters.jsonl is always written).",
        ),
    ] = "jsonl",
    encoding: Annotated[str, typer.Option(help="Text encoding of FILE (e.g. latin-1).")] = "utf-8",
    batch_size: Annotated[int, typer.Option(min=1, help="Items per gRPC message.")] = BATCH_SIZE,
    timeout: Annotated[float, typer.Option(help="Per-call deadline, seconds.")] = 120.0,
    token: Token = None,
    token_file: TokenFile = None,
    tls_ca: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
    skip_bad: Annotated[
        bool,
        typer.Option(
            "--skip-bad",
            help="Skip bad lines and keep items with an unreadable image without it (warns).",
        ),
    ] = False,
    if_absent: Annotated[
        bool,
        typer.Option(
            "--if-absent",
            help="Refuse items the index holds with other content (ALREADY_EXISTS) "
            "instead of judging them again.",
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            help="Column roles NAME=ROLE,... as for dedup; the others are inferred from FILE. "
            "The concept server judges by column name and its own --columns: columns read as "
            "listing here are not sent.",
        ),
    ] = None,
    build: Annotated[
        bool,
        typer.Option(
            "--build",
            help="Cluster FILE as one batch (BuildIndex), exactly like `fitrep dedup`, "
            "instead of assigning item batches incrementally.",
        ),
    ] = False,
) -> None:
    """Assign FILE's items to clusters through the servers; writes OUT/clusters.jsonl (and
    OUT/clusters.parquet with --format parquet)."""
    from fitrep.client import Client

    with user_errors():
        started = time.perf_counter()
        conn = Connection(token, token_file, tls_ca, tls_cert, tls_key)
        check_out_dir(out)
        check_format(fmt)
        if build and if_absent:
            raise InvalidInput("--if-absent", "applies to incremental assign, not --build")
        overrides = parse_columns(columns)
        items = load_items(file, encoding, skip_bad, image_bytes=True).items
        roles = infer_roles(items, overrides)
        items = [roles.wire_view(item) for item in items]
        with Client(concept, index, batch_size, timeout, **conn.client_kwargs()) as client:
            with stage_progress(progress) as report:

                def run() -> list[Assignment]:
                    if build:
                        return client.dedup(items, report)
                    return client.assign(items, report, if_absent=if_absent)

                assignments = _remote(run, f"{concept}, {index}", conn)
        paths = write_clusters(out, items, assignments, changes=not build, fmt=fmt)
    summary, changes = summarise(assignments), summarise_changes(assignments)
    what = (
        f"{changes['added']} added, {changes['updated']} updated ({changes['moved']} moved), "
        f"{changes['unchanged']} unchanged"
    )
    # soft_wrap: a narrow terminal folds the line between words, never inside a number
    console.print(
        f"[bold]{summary['items']}[/] items ({what}) -> [bold]{summary['clusters']}[/] clusters "
        f"({changes['opened']} opened) in {time.perf_counter() - started:.1f} s",
        soft_wrap=True,
    )
    console.print(f"clusters: {' and '.join(map(str, paths))}", soft_wrap=True)


@app.command()
def explain(
    item_a: Annotated[str, typer.Argument(metavar="ITEM_A", help="First item id.")],
    item_b: Annotated[str, typer.Argument(metavar="ITEM_B", help="Second item id.")],
    index: Annotated[str | None, typer.Option(help=f"Index server (default {INDEX}).")] = None,
    run: Annotated[
        Path | None, typer.Option(help="A dedup output directory: read DIR/index in-process.")
    ] = None,
    token: Token = None,
    token_file: TokenFile = None,
    tls_ca: TlsCa = None,
    tls_cert: TlsCert = None,
    tls_key: TlsKey = None,
) -> None:
    """Why two items are (not) duplicates: per-level similarity, gates, score vs threshold."""
    with user_errors():
        if run is not None and index is not None:
            raise InvalidInput("--run", "give either --run or --index, not both")
        roles: list[str] = []
        if run is not None:
            exp, roles = _explain_local(run, item_a, item_b)
        else:
            from fitrep.client import Client

            conn = Connection(token, token_file, tls_ca, tls_cert, tls_key)
            with Client(concept=None, index=index or INDEX, **conn.client_kwargs()) as client:
                exp = _remote(lambda: client.explain(item_a, item_b), index or INDEX, conn)
    _print_explanation(exp)
    for line in roles:
        stdout.print(line, highlight=False)


def _roles_line(item_id: str, anchors: Anchors) -> str:
    """What CHIE read each part of the record as: the codes that bind (title codes and
    identifier-valued columns, recognised by their values) and the columns compared."""
    columns = [f.partition("=")[0] for f in anchors.fields]
    return (
        f"roles of {item_id}: codes {', '.join(anchors.code) or '-'}; "
        f"brand {', '.join(anchors.brand) or '-'}; columns compared {', '.join(columns) or '-'}"
    )


def _explain_local(run: Path, item_a: str, item_b: str) -> tuple[Explanation, list[str]]:
    from index_server.engine import IndexEngine
    from index_server.storage.cluster_store import STORE_FILE

    index_dir = run / "index"
    if not (index_dir / STORE_FILE).exists():
        raise InvalidInput("--run", f"no index in {index_dir} (run `fitrep dedup --out {run}`)")
    engine = IndexEngine(data_dir=index_dir)
    try:
        exp = engine.explain(item_a, item_b)
        rows = engine.rows
        roles = [_roles_line(i, rows.anchors[rows.row(i)]) for i in (item_a, item_b)]
        return exp, roles + column_lines(run / "summary.json")
    finally:
        engine.close()


def _remote(call: Callable[[], T], addresses: str, conn: Connection) -> T:
    """Unreachable or slow servers are user-facing conditions here, not crashes."""
    try:
        return call()
    except Unavailable:
        raise Unavailable(conn.unreachable(addresses)) from None
    except TimeoutError as exc:
        raise InvalidInput("--timeout", f"deadline exceeded ({exc}); raise --timeout") from None


def _print_explanation(exp: Explanation) -> None:
    table = Table(title=f"{exp.item_a} vs {exp.item_b}", title_justify="left")
    for name, justify in (("level", "left"), ("similarity", "right"), ("weight", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("weighted", justify="right")
    for s in exp.per_level:
        if s.present:
            table.add_row(s.level.name, f"{s.similarity:.3f}", f"{s.weight:.2f}",
                          f"{s.weight * s.similarity:.3f}")  # fmt: skip
        else:
            table.add_row(
                f"[dim]{s.level.name}[/]", "[dim]absent[/]", f"[dim]{s.weight:.2f}[/]", ""
            )
    stdout.print(table)
    gates = {g.name for g in exp.gates}
    evidence = {
        k: v
        for k, v in exp.features.items()
        if not k.startswith(("cos_", "selfcal_")) and k != "weighted_cos" and k not in gates
    }
    if evidence:
        stdout.print(
            "evidence: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(evidence.items())),
            highlight=False,
        )
    bars = {k[8:]: v for k, v in exp.features.items() if k.startswith("selfcal_")}
    if bars:  # the catalogue's own Fellegi–Sunter weights (a waterfall, in bits)
        logit = bars.pop("logit", 0.0)
        stdout.print(
            "catalogue weights (bits): "
            + ", ".join(f"{k} {v:+.1f}" for k, v in bars.items())
            + f"; correction {logit:+.2f} (logit)",
            highlight=False,
        )
    for g in exp.gates:
        if g.fired:
            kind = "[red]hard gate" if g.hard else "[yellow]soft gate"
            stdout.print(f"{kind} {g.name} fired[/] {escape(g.detail)}", highlight=False)
    verdict = "[green]duplicates[/]" if exp.duplicate else "[red]not duplicates[/]"
    stdout.print(
        f"score [bold]{exp.score:.3f}[/] vs threshold {exp.threshold:.3f}; "
        f"family score {exp.family_score:.3f}: {verdict}",
        highlight=False,
    )
    stdout.print(
        f"clusters {exp.cluster_a or '-'} / {exp.cluster_b or '-'}; "
        f"families {exp.family_a or '-'} / {exp.family_b or '-'}"
        + (" (same family)" if exp.family_a and exp.family_a == exp.family_b else ""),
        highlight=False,
    )
    if exp.verdict:
        stdout.print(f"why: {escape(exp.verdict)}", highlight=False, soft_wrap=True)
