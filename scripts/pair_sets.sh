#!/usr/bin/env bash
# F1 of `fitrep match` (adaptive = mutual best, and the fixed threshold) on the test splits of the
# pair sets: scripts/pair_sets.sh [DATA_DIR]. The label column is read here only, to score.
D="${1:-$(dirname "$0")/../../shared/data}"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
for f in abt-buy/test.txt amazon-google-pairs/test.txt other-domains/beer/test.txt other-domains/fodors-zagats/test.txt other-domains/itunes-amazon/test.txt other-domains/dblp-acm/test.txt variants/promap-en/test.txt; do
  for mode in adaptive no-adaptive; do
    "$(dirname "$0")/../.venv/bin/fitrep" match $D/$f --out "$OUT" --$mode --no-progress >/dev/null 2>&1
    python3 - "$D/$f" "$f" "$mode" "$OUT" <<'PY'
import json,sys
labels=[int(l.rstrip("\n").split("\t")[2]) for l in open(sys.argv[1]) if l.strip()]
dec=[json.loads(l) for l in open(sys.argv[4])]
key=next(k for k in ("duplicate","match","decision") if k in dec[0])
pred=[bool(d[key]) for d in dec]
tp=sum(1 for p,l in zip(pred,labels) if p and l); fp=sum(1 for p,l in zip(pred,labels) if p and not l); fn=sum(1 for p,l in zip(pred,labels) if not p and l)
P=tp/(tp+fp) if tp+fp else 0; R=tp/(tp+fn) if tp+fn else 0
print(f"{sys.argv[2]:40s} {sys.argv[3]:12s} P {P:.3f} R {R:.3f} F1 {2*P*R/(P+R) if P+R else 0:.3f}")
PY
  done
done
