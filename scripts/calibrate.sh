#!/usr/bin/env bash
# Refit the shipped calibration (index_server/scoring/calibration.json) from every shared
# train/valid split — the two product sets, the four other-domain sets and 150 grocery
# photos, read with OCR (the [ocr] extra) — domain-balanced (fitrep calibrate --balance).
# Test splits are never read.
# Needs ../shared/data (DATA=... to point elsewhere). One calibration per text encoder: its
# coefficients read that encoder's cosines (ENCODER=static writes calibration_static.json).
#   [ENCODER=minilm|static] bash scripts/calibrate.sh [FITREP]   (default .venv/bin/fitrep)
set -euo pipefail
FITREP=$(realpath "${1:-.venv/bin/fitrep}")
DATA=$(cd "${DATA:-../shared/data}" && pwd)
ENCODER=${ENCODER:-minilm}
case "$ENCODER" in
  minilm) OUT=index_server/scoring/calibration.json; VERSION=fitted-11 ;;
  static) OUT=index_server/scoring/calibration_static.json; VERSION=fitted-11-static ;;
  *) echo "ENCODER=$ENCODER: minilm or static" >&2; exit 2 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The photo list's paths are relative to the list; train.txt says train/Packages/..., the
# folder on disk has no Packages level.
ln -s "$DATA/grocery-packages/train" "$tmp/train"
sed 's#^train/Packages/#train/#' "$DATA/grocery-packages/train.txt" > "$tmp/grocery_train.csv"
files=()
for set in abt-buy amazon-google-pairs other-domains/beer other-domains/fodors-zagats \
           other-domains/itunes-amazon other-domains/dblp-acm; do
  files+=("$DATA/$set/train.txt" "$DATA/$set/valid.txt")
done
"$FITREP" calibrate "${files[@]}" --image-list "$tmp/grocery_train.csv" \
  --image-limit 150 --ocr on --no-progress --encoder "$ENCODER" --out "$OUT"
# Name this fit (the version readers and results cite) and what it was fitted on.
OUT="$OUT" VERSION="$VERSION" ENCODER="$ENCODER" python3 - <<'PY'
import json, os, pathlib
p = pathlib.Path(os.environ["OUT"])
cal = json.loads(p.read_text())
cal["version"] = os.environ["VERSION"]
cal["notes"]["command"] = (
    "bash scripts/calibrate.sh" if os.environ["ENCODER"] == "minilm"
    else f"ENCODER={os.environ['ENCODER']} bash scripts/calibrate.sh"
)
cal["notes"]["fitted_on"] = [
    "grocery-packages/train.txt (150 photos, evenly spaced; all pairs among them)"
    if f.endswith("grocery_train.csv") else f.split("/shared/data/")[-1]
    for f in cal["notes"]["fitted_on"]
]
cal["notes"]["test_splits_used"] = "none"
p.write_text(json.dumps(cal, indent=2, sort_keys=True) + "\n")
PY
