#!/usr/bin/env bash
# e2e for speculative decoding (--draft-model): greedy `run` output equals plain decoding, the
# --json record carries the drafter statistics, a foreign tokenizer is a usage error (exit 1),
# and `bench --verify-k` reports pass costs and a projection.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
M=$DATA/testdata/models
fail() { echo "FAIL: $*"; exit 1; }
IDS=2,1950,1381,1486,1865,1298,1649,1752,670

for pair in "g3-tiny-q4_0 g3-tiny-q8_0" "g4-tiny-q8_0 g4-tiny-q4_k_m"; do
  set -- $pair
  common=(run -m "$M/$1.gguf" --prompt-ids $IDS -n 60 --temp 0 --json -t 1 -c 128 -b 16 --no-stdin)
  plain=$("$GEMRUN" "${common[@]}" 2>/dev/null)
  spec=$("$GEMRUN" "${common[@]}" --draft-model "$M/$2.gguf" --draft-max 6 2>/dev/null)
  python3 - "$plain" "$spec" "$1" <<'PY' || fail "$1 drafted by $2"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["tokens"] == b["tokens"], (sys.argv[3], a["tokens"], b["tokens"])
assert len(b["tokens"]) == 60
s = b["speculative"]
assert "speculative" not in a
assert 0 < s["target_passes"] < 60 and s["accepted"] <= s["drafted"], s
assert len(b["tokens"]) - s["accepted"] - s["target_passes"] in (0, 1), s
assert abs(s["acceptance_rate"] - s["accepted"] / s["drafted"]) < 1e-9
PY
done

set +e
err=$("$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" --draft-model "$M/g4-tiny-q8_0.gguf" --prompt-ids $IDS -n 4 --no-stdin 2>&1 >/dev/null)
rc=$?
set -e
[ $rc -eq 1 ] || fail "foreign drafter: exit $rc, want 1 ($err)"
echo "$err" | grep -q "same tokenizer" || fail "foreign drafter message: $err"

out=$("$GEMRUN" bench -m "$M/g3-tiny-q4_0.gguf" --verify-k 1..4 --draft-model "$M/g3-tiny-q8_0.gguf" -r 1 -t 1 --json)
python3 - "$out" <<'PY' || fail "bench --verify-k: $out"
import json, sys
o = json.loads(sys.argv[1])
assert [r["k"] for r in o["verify"]] == [1, 2, 3, 4]
assert all(r["pass_ms"] > 0 and r["steps_ms"] > 0 for r in o["verify"])
assert o["draft_ms_per_id"] > 0
assert [p["acceptance"] for p in o["projection"]] == [0.6, 0.8]
assert all(p["speedup"] > 0 and 1 <= p["best_k"] <= 3 for p in o["projection"])
PY
echo PASS
