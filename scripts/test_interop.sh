#!/usr/bin/env bash
# make test-interop: the Go and Java callers in examples/, generated from protos/, against the
# real Python servers, next to the Python SDK; all three must print the same cluster ids.
#
# Toolchains come from Debian packages (offline recipes in DESIGN.md §10): Go 1.19 in GOPATH mode
# with grpc-go 1.33, Java 17 with grpc-java 1.41 from /usr/share/java. Stubs are generated here
# into build/interop/ (gitignored), so there is nothing committed to go stale.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PY:-.venv/bin/python} # make passes $(PY); relative to the repo root
[[ $PY == /* ]] || PY=$ROOT/$PY
OUT=$ROOT/build/interop
ITEMS=examples/interop_items.json
start=$(date +%s)
step() { echo "interop: $1 ($(($(date +%s) - start)) s)"; }

PACKAGES=(
  protobuf-compiler
  golang-go golang-google-grpc-dev golang-google-protobuf-dev protoc-gen-go protoc-gen-go-grpc
  golang-github-golang-protobuf-1-5-dev # without it the old protobuf API makes RPCs panic
  openjdk-17-jdk-headless libgrpc-java libprotobuf-java protobuf-compiler-grpc-java-plugin
  libnetty-java libperfmark-java libgoogle-gson-java libanimal-sniffer-java
  libgeronimo-annotation-1.3-spec-java
)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "interop: missing Debian packages (run as root, or install them): ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  step "installed ${#missing[@]} Debian packages"
fi

rm -rf "$OUT"
mkdir -p "$OUT/gopath/src" "$OUT/java/src" "$OUT/java/classes"
PROTOS=(protos/fitrep/v1/*.proto)

# Go: the generated package lands at its go_package import path inside a private GOPATH.
protoc -Iprotos --go_out="$OUT/gopath/src" --go-grpc_out="$OUT/gopath/src" "${PROTOS[@]}"
GO111MODULE=off GOFLAGS= GOPATH="$OUT/gopath:/usr/share/gocode" GOCACHE="$ROOT/build/go-cache" \
  go build -o "$OUT/fitrep-interop-go" ./examples/go
step "go caller built ($(go version | cut -d' ' -f3))"

# Java: Debian's protoc (3.21) and grpc-java plugin; runtime jars from /usr/share/java.
protoc -Iprotos --java_out="$OUT/java/src" \
  --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin --grpc-java_out="$OUT/java/src" "${PROTOS[@]}"
JARS=(
  grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub protobuf
  guava perfmark-api gson geronimo-annotation-1.3-spec animal-sniffer-annotations
  error-prone-annotations netty-buffer netty-codec netty-codec-http netty-codec-http2
  netty-codec-socks netty-common netty-handler netty-handler-proxy netty-resolver netty-transport
)
CP=$(printf '/usr/share/java/%s.jar:' "${JARS[@]}")
javac -nowarn -d "$OUT/java/classes" -cp "$CP" \
  $(find "$OUT/java/src" -name '*.java') examples/java/FitrepInterop.java
step "java caller built ($(javac -version 2>&1))"

# The servers and the SDK run from this tree, whatever the venv's editable install points at.
PYTHONPATH="$ROOT:$ROOT/client${PYTHONPATH:+:$PYTHONPATH}" "$PY" scripts/interop.py "$ITEMS" \
  "go=$OUT/fitrep-interop-go" \
  "java=java -cp $OUT/java/classes:$CP FitrepInterop" \
  "python=$PY examples/python/assign_items.py"
step "done"
