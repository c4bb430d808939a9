"""Each tier's image installs exactly what that tier imports (``deploy/requirements/*.txt``).

The files of a tier are every ``.py`` under its package folder, under ``serving/`` (shared by
both tiers) when it exists, and every ``fitrep`` module those reach by import (the contract:
domain, wire, stubs). Their imports are read with ``ast``; third-party ones must be named in
the tier's list, which in turn may only name distributions of ``pyproject.toml`` (its
dependencies, or an extra the image installs, e.g. ``[ocr]`` in the concept image), with the
same version specifier, and nothing the tier does not import. An import at module level must be in
the list proper; one inside a function may instead be declared ``# optional: NAME`` (a backend
the image deliberately leaves out, e.g. vllm in the CPU image).
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "deploy" / "requirements"
FIRST_PARTY = {
    "fitrep": REPO / "client" / "fitrep",
    "serving": REPO / "serving",
    "mllm_server": REPO / "mllm_server",
    "index_server": REPO / "index_server",
}
TIERS = {"concept": ("mllm_server",), "index": ("index_server",)}
SHARED = ("serving",)

# Import name -> the distributions that provide it, where the two are spelled differently.
DISTRIBUTIONS = {
    "PIL": {"pillow"},
    "cv2": {"opencv-python-headless", "opencv-python"},
    "faiss": {"faiss-cpu", "faiss-gpu"},
    "google.protobuf": {"protobuf"},
    "grpc": {"grpcio"},
    "grpc_health": {"grpcio-health-checking"},
    "grpc_reflection": {"grpcio-reflection"},
    "sklearn": {"scikit-learn"},
    "umap": {"umap-learn"},
    "yaml": {"pyyaml"},
}


def canonical(name: str) -> str:
    """PEP 503 name: ``Foo_Bar.baz`` -> ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions_of(module: str) -> set[str]:
    for prefix in (module, module.partition(".")[0]):
        for name, dists in DISTRIBUTIONS.items():
            if prefix == name or module.startswith(name + "."):
                return dists
    return {canonical(module.partition(".")[0])}


@dataclass(frozen=True)
class Use:
    module: str  # as imported, e.g. "google.protobuf.descriptor"
    where: str  # file:line
    lazy: bool  # inside a function: only needed when that code runs


def _module_of(path: Path) -> str:
    for top, root in FIRST_PARTY.items():
        if path.is_relative_to(root):
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    raise ValueError(path)


def _file_of(module: str) -> Path | None:
    top, _, rest = module.partition(".")
    if top not in FIRST_PARTY:
        return None
    base = FIRST_PARTY[top].joinpath(*rest.split(".")) if rest else FIRST_PARTY[top]
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    module = _module_of(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package, str(path))


def imports_in(source: str, package: str, filename: str) -> list[tuple[str, int, bool]]:
    """(module, line, lazy) for every import; ``if TYPE_CHECKING:`` blocks never run."""
    out: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for stmt in child.orelse:
                    visit(stmt, lazy)
                continue
            if isinstance(child, ast.Import):
                out.extend((a.name, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                out.append((base, child.lineno, lazy))
                # ``from pkg import sub`` loads pkg.sub when that is a module of ours
                out.extend(
                    (f"{base}.{a.name}", child.lineno, lazy)
                    for a in child.names
                    if _file_of(f"{base}.{a.name}")
                )
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, lazy or inner)

    visit(ast.parse(source, filename), False)
    return out


def tier_files(packages: tuple[str, ...]) -> list[Path]:
    """The tier's own folders plus every first-party module they reach (and its packages)."""
    todo = [p for top in (*packages, *SHARED) for p in FIRST_PARTY[top].rglob("*.py")]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, _, _ in _imports(path):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                found = _file_of(".".join(parts[:i]))
                if found is not None and found not in seen:
                    todo.append(found)
    return sorted(seen)


def third_party_uses(files: list[Path]) -> list[Use]:
    stdlib = sys.stdlib_module_names
    uses = []
    for path in files:
        for module, line, lazy in _imports(path):
            top = module.partition(".")[0]
            if top and top not in stdlib and top not in FIRST_PARTY and top != "__future__":
                uses.append(Use(module, f"{path.relative_to(REPO)}:{line}", lazy))
    return uses


@dataclass
class Requirements:
    specs: dict[str, str] = field(default_factory=dict)  # canonical name -> specifier
    optional: set[str] = field(default_factory=set)


_REQ = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")


def parse_requirement(text: str) -> tuple[str, str]:
    match = _REQ.match(text.strip())
    assert match, f"cannot read requirement {text!r}"
    return canonical(match[1]), match[2].replace(" ", "")


def read_requirements(path: Path) -> Requirements:
    req = Requirements()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if m := re.match(r"#\s*optional:\s*([A-Za-z0-9._-]+)", line):
            req.optional.add(canonical(m[1]))
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            inner = read_requirements(path.parent / line.split(None, 1)[1])
            req.specs.update(inner.specs)
            req.optional |= inner.optional
            continue
        name, spec = parse_requirement(line)
        req.specs[name] = spec
    return req


def pyproject_specs() -> tuple[dict[str, str], dict[str, str]]:
    """(dependencies, every optional dependency), canonical name -> specifier."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = dict(map(parse_requirement, project["dependencies"]))
    extras = dict(
        parse_requirement(r) for group in project["optional-dependencies"].values() for r in group
    )
    return deps, extras


def problems(
    uses: list[Use], req: Requirements, deps: dict[str, str], extras: dict[str, str], label: str
) -> list[str]:
    found = []
    imported: set[str] = set()
    for use in uses:
        dists = distributions_of(use.module)
        imported |= dists
        if dists & req.specs.keys():
            continue
        if use.lazy and dists & req.optional:
            continue
        how = "inside a function" if use.lazy else "at module level"
        found.append(
            f"{use.where}: imports {use.module} ({how}); {label} names none of {sorted(dists)}"
        )
    for name, spec in sorted(req.specs.items()):
        declared = deps.get(name, extras.get(name))
        if declared is None:
            found.append(f"{label}: {name} is not in pyproject's dependencies or extras")
        elif spec != declared:
            found.append(f"{label}: {name}{spec} but pyproject says {name}{declared}")
        if name not in imported:
            found.append(f"{label}: {name} is not imported by the tier: drop it from the image")
    for name in sorted(req.optional - deps.keys() - extras.keys()):
        found.append(f"{label}: optional {name} is not declared in pyproject")
    return found


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_tier_list_matches_its_imports(tier: str) -> None:
    files = tier_files(TIERS[tier])
    assert len(files) > 5, f"the walk found almost nothing for {tier}: are the roots right?"
    path = REQUIREMENTS / f"{tier}.txt"
    found = problems(
        third_party_uses(files), read_requirements(path), *pyproject_specs(), str(path.name)
    )
    assert not found, "\n".join(found)


def test_the_walk_reaches_the_contract_and_not_the_other_tier() -> None:
    files = {str(p.relative_to(REPO)) for p in tier_files(TIERS["index"])}
    assert "client/fitrep/domain.py" in files and "client/fitrep/__init__.py" in files
    assert not any(f.startswith(("mllm_server/", "client/fitrep/cli/")) for f in files)


def test_a_missing_a_stray_and_a_drifted_requirement_are_reported() -> None:
    uses = [
        Use("yaml", "x.py:1", lazy=False),
        Use("vllm.sampling_params", "x.py:2", lazy=True),
        Use("torch", "x.py:3", lazy=False),
        Use("google.protobuf.descriptor", "x.py:4", lazy=False),
    ]
    uses += [Use("rapidocr", "x.py:5", lazy=True), Use("onnxruntime", "x.py:6", lazy=True)]
    req = Requirements(
        {"protobuf": ">=7", "pillow": ">=10", "rapidocr": "==3.10.0", "onnxruntime": ">=1"},
        optional={"vllm", "torch"},
    )
    deps = {"protobuf": ">=7.35.1", "pillow": ">=10", "pyyaml": ""}
    extras = {"vllm": ">=0.11", "rapidocr": "==3.10.0", "onnxruntime": ">=1.17"}
    assert problems(uses, req, deps, extras, "t.txt") == [
        "x.py:1: imports yaml (at module level); t.txt names none of ['pyyaml']",
        "x.py:3: imports torch (at module level); t.txt names none of ['torch']",
        "t.txt: onnxruntime>=1 but pyproject says onnxruntime>=1.17",
        "t.txt: pillow is not imported by the tier: drop it from the image",
        "t.txt: protobuf>=7 but pyproject says protobuf>=7.35.1",
        "t.txt: optional torch is not declared in pyproject",
    ]


def test_imports_inside_functions_are_lazy_and_type_checking_ones_ignored() -> None:
    source = (
        "import numpy\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import torch\n"
        "def f():\n"
        "    import cv2\n"
        "    from .bootstrap import MiB\n"
    )
    got = {(m, lazy) for m, _, lazy in imports_in(source, "serving", "serving/x.py")}
    assert got == {
        ("numpy", False),
        ("typing", False),
        ("cv2", True),
        ("serving.bootstrap", True),
    }
