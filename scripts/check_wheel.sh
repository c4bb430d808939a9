#!/usr/bin/env bash
# The package as users install it: build the wheel and the sdist, install the wheel (not -e) into a
# fresh venv outside the checkout, and run it from a folder where the checkout cannot shadow it.
# An editable install hid a wheel without index_server.rows once; this step is what catches that.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
WORK="$(mktemp -d /tmp/fitrep-wheel.XXXXXX)"
trap 'kill "${SERVE_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
start=$(date +%s)

"$PYTHON" -m venv "$WORK/build-venv"
"$WORK/build-venv/bin/pip" install -q --upgrade pip build 2>"$WORK/pip.log" ||
    { cat "$WORK/pip.log"; exit 1; }
"$WORK/build-venv/bin/python" -m build --outdir "$WORK/dist" "$REPO" >"$WORK/build.log" 2>&1 ||
    { cat "$WORK/build.log"; exit 1; }
wheel="$(ls "$WORK"/dist/fitrep-*.whl)"
sdist="$(ls "$WORK"/dist/fitrep-*.tar.gz)"
echo "check-wheel: built $(basename "$wheel") and $(basename "$sdist")"

# Everything a module of the source tree is, the wheel must hold (and the sdist must carry).
python3 - "$REPO" "$wheel" "$sdist" <<'EOF'
import sys, tarfile, zipfile
from pathlib import Path
repo, wheel, sdist = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
roots = {"fitrep": repo / "client" / "fitrep", "mllm_server": repo / "mllm_server",
         "index_server": repo / "index_server", "serving": repo / "serving"}
want = {f"{name}/{p.relative_to(root).as_posix()}" for name, root in roots.items()
        for p in root.rglob("*.py") if "__pycache__" not in p.parts}
# and every data file git tracks there (calibrations, the static encoder, prompts, report assets)
import subprocess
tracked = subprocess.run(["git", "-C", str(repo), "ls-files", *map(str, roots.values())],
                         capture_output=True, text=True, check=True).stdout.split()
for name, root in roots.items():
    rel = root.relative_to(repo).as_posix()
    want |= {f"{name}/{t[len(rel) + 1:]}" for t in tracked
             if t.startswith(rel + "/") and not t.endswith((".py", ".pyi"))}
have = set(zipfile.ZipFile(wheel).namelist())
missing = sorted(want - have)
if missing:
    sys.exit("check-wheel: the wheel lacks " + ", ".join(missing))
names = tarfile.open(sdist).getnames()
lacking = sorted(m for m in want if not any(n.endswith(m) for n in names))
if lacking and not all(m.startswith("fitrep/") for m in lacking):
    sys.exit("check-wheel: the sdist lacks " + ", ".join(lacking[:10]))
print(f"check-wheel: the wheel holds all {len(want)} modules and data files of the source tree")
EOF

"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q --upgrade pip 2>>"$WORK/pip.log"
"$WORK/venv/bin/pip" install -q "$TORCH" "$wheel[ocr,onnx]" 2>"$WORK/pip.log" ||
    { cat "$WORK/pip.log"; exit 1; }
BIN="$WORK/venv/bin"
cd "$WORK"  # nothing of the checkout on sys.path from here on
"$BIN/python" - <<'EOF'
import importlib, pkgutil
for top in ("fitrep", "mllm_server", "index_server", "serving"):
    package = importlib.import_module(top)
    assert "site-packages" in package.__file__, f"{top} imported from {package.__file__}"
    # __main__ modules run a server when imported: `--help` below covers them.
    names = [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")
             if not m.name.endswith(".__main__")]
    optional = []  # modules of the extras this step does not install ([ray], [gpu])
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name not in ("ray", "vllm"):
                raise
            optional.append(f"{name} (needs {error.name})")
    print(f"check-wheel: imported {top} and its {len(names) - len(optional)} modules from "
          f"site-packages" + (f"; not without their extra: {', '.join(optional)}" if optional else ""))
EOF
"$BIN/fitrep" --version
"$BIN/python" -m index_server --help >/dev/null
"$BIN/python" -m mllm_server --help >/dev/null
"$BIN/fitrep" dedup "$REPO/examples/data/catalogue.jsonl" --out "$WORK/runs/demo" --no-progress
test -s "$WORK/runs/demo/clusters.jsonl"

# One assign through `fitrep serve`, on ports the OS picks free.
ports="$("$BIN/python" -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"
read -r cport iport <<<"$ports"
"$BIN/fitrep" serve --concept-port "$cport" --index-port "$iport" --data-dir "$WORK/serve" \
    >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 180); do
    grep -q "serving concept=" "$WORK/serve.log" && break
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$WORK/serve.log"; exit 1; }
    sleep 1
done
grep -q "serving concept=" "$WORK/serve.log" || { cat "$WORK/serve.log"; exit 1; }
head -3 "$REPO/examples/data/catalogue.jsonl" >"$WORK/new.jsonl"
"$BIN/fitrep" assign "$WORK/new.jsonl" --concept "127.0.0.1:$cport" --index "127.0.0.1:$iport" \
    --out "$WORK/runs/assign"
test "$(wc -l <"$WORK/runs/assign/clusters.jsonl")" -eq 3
kill -TERM "$SERVE_PID"  # SIGINT is ignored by a background job of a script
wait "$SERVE_PID" || true
echo "check-wheel: ok in $(( $(date +%s) - start )) s"
