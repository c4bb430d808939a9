"""The committed stubs in client/fitrep/v1 must be what ``make protos`` generates now."""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
STUBS = ROOT / "client" / "fitrep" / "v1"


def test_stubs_match_protos(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "protos/fitrep/v1").glob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{ROOT / 'protos'}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        f"--grpc_python_out={tmp_path}",
        *[str(ROOT / p) for p in protos],
    ]
    assert protoc.main(args) == 0, "protoc failed"
    generated = sorted(p.name for p in (tmp_path / "fitrep" / "v1").iterdir())
    assert generated, "protoc produced nothing"
    stale = [
        name
        for name in generated
        if not (STUBS / name).exists()
        or not filecmp.cmp(STUBS / name, tmp_path / "fitrep/v1" / name, shallow=False)
    ]
    assert not stale, f"stale stubs {stale}: run `make protos` and commit ({sys.executable})"
