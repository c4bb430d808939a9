#!/usr/bin/env bash
# End-to-end test of the vllm backend on CPU (`make test-vllm`): build (or reuse) .venv-vllm,
# build a tiny random-weight Qwen2-VL, run tests/vllm (in-process backend, then
# `python -m mllm_server --backend vllm` over gRPC). Prints the measured figures at the end.
#
# Env: VLLM_VENV (default .venv-vllm), FITREP_TINY_VLM (model dir; default a fresh temp dir),
#      PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
export VLLM_VENV="$VENV"
cd "$ROOT"
start=$(date +%s)

bash "$ROOT/scripts/setup_vllm_test_env.sh"
setup_done=$(date +%s)

work="$(mktemp -d -t fitrep-vllm-XXXXXX)"
trap 'rm -rf "$work"' EXIT
export FITREP_TINY_VLM="${FITREP_TINY_VLM:-$work/tiny-vlm}"
export FITREP_VLLM_REPORT="$work/report.txt"
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
if [[ ! -f "$FITREP_TINY_VLM/config.json" ]]; then
  "$VENV/bin/python" "$ROOT/scripts/make_tiny_vlm.py" "$FITREP_TINY_VLM"
fi

# -p no:cacheprovider: the tree may be shared; tests/vllm is never part of `make test`.
"$VENV/bin/python" -m pytest tests/vllm -q -p no:cacheprovider ${PYTEST_ARGS:-}
end=$(date +%s)

echo "[test-vllm] setup $((setup_done - start)) s, model + tests $((end - setup_done)) s," \
  "total $((end - start)) s"
cat "$FITREP_VLLM_REPORT" 2>/dev/null | sed 's/^/[test-vllm] /' || true
