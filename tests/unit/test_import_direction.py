"""Dependencies run one way: contract <- serving <- servers <- Pipeline / CLI; SDK -> contract.

Every ``import`` in our packages (module level, inside functions, under ``TYPE_CHECKING``) is
read with ``ast`` and classified by layer; an arrow against the flow fails naming file:line.

- contract (``fitrep`` package root, ``fitrep.domain``, ``fitrep.units``,
  ``fitrep.transliterate``, ``fitrep.defaults``, ``fitrep.wire``, ``fitrep.rpc_errors``,
  ``fitrep.v1``, the column roles ``fitrep.columns`` / ``fitrep.column_names``): imports
  nothing of ours outside the contract.
- serving (``serving``): the contract only; never a server, the SDK or the app.
- servers (``mllm_server``, ``index_server``): the contract, ``serving`` and their own
  package; never the other server, the SDK or the app.
- SDK client (``fitrep.client``, ``fitrep.calls``): the contract only; never a server,
  ``serving`` or the app.
- app (every other ``fitrep`` module: pipeline, cli, launch, report, readers, ...): anything.

Inside ``index_server`` the stage packages run one way too, bottom up: ``storage`` (the SQLite
store, persistence) and ``rows`` (the row table every stage reads) <- ``candidates`` <-
``scoring`` <- ``clustering``; a stage imports none of the stages after it. The base modules
(``config``, ``integration``, ``validation``) import no stage; the facade (``engine``,
``queries``, ``upserts``, ``state``, ``state_store``) and ``transport`` may import any. No two
modules of ``index_server`` or of ``mllm_server`` import each other, directly or round a
longer circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ROOTS = {
    "fitrep": REPO / "client" / "fitrep",
    "serving": REPO / "serving",
    "mllm_server": REPO / "mllm_server",
    "index_server": REPO / "index_server",
}
CONTRACT = (
    "fitrep.domain",
    "fitrep.anchors",
    "fitrep.units",
    "fitrep.transliterate",
    "fitrep.defaults",
    "fitrep.wire",
    "fitrep.rpc_errors",
    "fitrep.v1",
    "fitrep.columns",
    "fitrep.column_names",
)
SDK = ("fitrep.client", "fitrep.calls")
ALLOWED = {
    "contract": {"contract"},
    "serving": {"contract", "serving"},
    "mllm_server": {"contract", "serving", "mllm_server"},
    "index_server": {"contract", "serving", "index_server"},
    "sdk": {"contract", "sdk"},
    "app": {"contract", "serving", "mllm_server", "index_server", "sdk", "app"},
}


def _within(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> str | None:
    """The layer of one of our modules; None for the standard library and third parties."""
    top = module.partition(".")[0]
    if top in ("serving", "mllm_server", "index_server"):
        return top
    if top != "fitrep":
        return None
    if module == "fitrep" or _within(module, CONTRACT):
        return "contract"
    return "sdk" if _within(module, SDK) else "app"


def module_name(path: Path) -> str:
    for top, root in ROOTS.items():
        if path.is_relative_to(root):
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(f"{path} is not under {sorted(ROOTS)}")


def our_files() -> list[Path]:
    return sorted(p for root in ROOTS.values() for p in root.rglob("*.py"))


KNOWN = {module_name(p) for p in our_files()}


def imported_modules(tree: ast.AST, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in ``tree``, relative ones resolved against ``module``.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is one of our modules.
    """
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                package = package if is_package else package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.append((node.lineno, sub if sub in KNOWN else base))
    return sorted(out)


def violations(module: str, source: str, filename: str, is_package: bool = False) -> list[str]:
    """One ``file:line: ...`` message per import against the flow."""
    here = layer_of(module)
    assert here is not None, module
    found = []
    for line, target in imported_modules(ast.parse(source, filename), module, is_package):
        there = layer_of(target)
        if there is not None and there not in ALLOWED[here]:
            found.append(f"{filename}:{line}: {module} ({here}) imports {target} ({there})")
    return found


def test_every_import_runs_with_the_flow() -> None:
    files = our_files()
    assert len(files) > 50, "the walk found almost nothing: are ROOTS right?"
    found = []
    for path in files:
        found += violations(
            module_name(path),
            path.read_text(encoding="utf-8"),
            str(path.relative_to(REPO)),
            path.name == "__init__.py",
        )
    assert not found, "imports against the flow:\n" + "\n".join(found)


def test_layers() -> None:
    assert layer_of("fitrep") == layer_of("fitrep.v1.common_pb2") == "contract"
    assert layer_of("fitrep.client") == "sdk"
    assert layer_of("fitrep.cli.remote") == layer_of("fitrep.pipeline") == "app"
    assert layer_of("index_server.engine") == "index_server"
    assert layer_of("grpc") is None and layer_of("servingx") is None


def test_a_bad_import_is_reported_with_its_line() -> None:
    source = (
        "from fitrep.domain import Item\n"
        "from fitrep import client\n"
        "def late():\n"
        "    import mllm_server.chie.engine\n"
    )
    found = violations("index_server.engine", source, "index_server/engine.py")
    assert found == [
        "index_server/engine.py:2: index_server.engine (index_server) imports fitrep.client (sdk)",
        "index_server/engine.py:4: index_server.engine (index_server) imports "
        "mllm_server.chie.engine (mllm_server)",
    ]


def test_the_sdk_and_the_contract_may_not_reach_up() -> None:
    assert violations("fitrep.client", "from serving.bootstrap import MiB\n", "c.py") == [
        "c.py:1: fitrep.client (sdk) imports serving.bootstrap (serving)"
    ]
    assert violations("fitrep.wire", "from . import pipeline\n", "w.py") == [
        "w.py:1: fitrep.wire (contract) imports fitrep.pipeline (app)"
    ]
    assert violations("serving.logs", "from index_server import engine\n", "s.py") == [
        "s.py:1: serving.logs (serving) imports index_server.engine (index_server)"
    ]


# -- inside the index tier ------------------------------------------------------------------
# Bottom up; a stage may import only the stages before it (``storage`` and ``rows`` are both
# below the pipeline and import neither each other's nor any stage's modules).
STAGES = ("storage", "rows", "candidates", "scoring", "clustering")
STAGE_ALLOWED = {
    "storage": {"storage"},
    "rows": {"rows"},
    "candidates": {"storage", "rows", "candidates"},
    "scoring": {"storage", "rows", "candidates", "scoring"},
    "clustering": {"storage", "rows", "candidates", "scoring", "clustering"},
    "base": set(),
}
BASE = ("index_server.config", "index_server.integration", "index_server.validation")


def stage_of(module: str) -> str | None:
    """The stage of an ``index_server`` module, "base" for the modules below every stage, None
    for the rest (the facade, transport, the package itself) and for other packages."""
    if module in BASE:
        return "base"
    parts = module.split(".")
    if parts[0] != "index_server" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in STAGES else None


def stage_violations(
    module: str, source: str, filename: str, is_package: bool = False
) -> list[str]:
    """One ``file:line: ...`` message per import of a later stage (or of any stage from a
    base module)."""
    here = stage_of(module)
    if here is None:
        return []
    found = []
    for line, target in imported_modules(ast.parse(source, filename), module, is_package):
        there = stage_of(target)
        if there is not None and there != "base" and there not in STAGE_ALLOWED[here]:
            found.append(f"{filename}:{line}: {module} ({here}) imports {target} ({there})")
    return list(dict.fromkeys(found))  # one line per import, however many names


def import_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (any import: module level, in a
    function, under ``TYPE_CHECKING``)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOTS[package].rglob("*.py")):
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        imported = imported_modules(tree, module, path.name == "__init__.py")
        graph[module] = {t for _, t in imported if _within(t, [package]) and t != module}
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_index_stages_run_one_way() -> None:
    files = sorted(ROOTS["index_server"].rglob("*.py"))
    assert len(files) > 40 and stage_of("index_server.scoring.verifier") == "scoring"
    found = []
    for path in files:
        found += stage_violations(
            module_name(path),
            path.read_text(encoding="utf-8"),
            str(path.relative_to(REPO)),
            path.name == "__init__.py",
        )
    assert not found, "index_server stages imported against the flow:\n" + "\n".join(found)


def test_no_import_cycles_in_the_index_tier() -> None:
    graph = import_graph("index_server")
    assert len(graph) > 40 and "index_server.engine" in graph["index_server.transport.server"]
    assert cycles(graph) == []


def test_no_import_cycles_in_the_concept_tier() -> None:
    graph = import_graph("mllm_server")
    assert len(graph) > 15 and "mllm_server.chie.engine" in graph
    assert cycles(graph) == []


def test_stage_and_cycle_checks_catch_what_they_are_for() -> None:
    source = (
        "from index_server.integration import LevelLayout\n"
        "from index_server.rows.codes import CODE_SLOTS\n"
        "from index_server.scoring import bounds\n"
        "def late():\n"
        "    from index_server.clustering.cluster_ids import parse_cluster_id\n"
    )
    assert stage_violations("index_server.storage.rows", source, "r.py") == [
        "r.py:2: index_server.storage.rows (storage) imports index_server.rows.codes (rows)",
        "r.py:3: index_server.storage.rows (storage) imports index_server.scoring.bounds (scoring)",
        "r.py:5: index_server.storage.rows (storage) imports "
        "index_server.clustering.cluster_ids (clustering)",
    ]
    assert stage_violations("index_server.clustering.join_rule", source, "f.py") == []
    assert stage_violations("index_server.config", source, "c.py")[0].startswith(
        "c.py:2: index_server.config (base) imports index_server.rows.codes (rows)"
    )
    assert stage_violations("index_server.engine", source, "e.py") == []
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"x": {"y"}, "y": set()}) == []
