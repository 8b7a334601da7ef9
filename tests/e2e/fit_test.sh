#!/usr/bin/env bash
# e2e for `gemrun fit`: the plan of a local file (text and --json agree, parts add up, the
# bandwidth gives the tokens/s), a context that cannot fit (exit 3), a remote reference read
# through growing HTTP Range requests from the loopback hub imitation (hf_mock_server.py)
# without fetching the whole file, its projector counted, offline mode refusing before any
# request, and run refusing what does not fit with the way out (--no-fit-check, gemrun fit).
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR]
set -euo pipefail
GEMRUN=$1 DATA=$2
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
M=$DATA/testdata/models V=$DATA/vision/models
T=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() {  # expect RC NEEDLE CMD...
  local want=$1 needle=$2; shift 2
  local rc=0; "$@" > "$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out"; fail "$* exited $rc, want $want"; }
  grep -qF -- "$needle" "$T/out" || { cat "$T/out"; fail "$*: output lacks '$needle'"; }
}
export GEMRUN_HOME=$T/store
unset GEMRUN_OFFLINE HF_TOKEN

# 1. A local file: every part printed, a verdict; --json's parts add up to the total.
expect 0 "verdict" "$GEMRUN" fit -m "$M/g4-tiny-q8_0.gguf" -c 4096 --bandwidth 10
for part in weights "KV cache" sliding-window full-attention "shared (reads" activations scratch runtime total available decode; do
  grep -qF "$part" "$T/out" || { cat "$T/out"; fail "fit output lacks '$part'"; }
done
"$GEMRUN" fit -m "$M/g4-tiny-q8_0.gguf" -c 4096 --parallel 2 --kv-type q8_0 --bandwidth 10 --json > "$T/local.json" ||
  fail "fit --json"
$PY - "$T/local.json" <<'PYEOF' || fail "fit --json fields"
import json, sys
d = json.load(open(sys.argv[1]))
parts = d["weights_bytes"] + d["kv_cache_bytes"] + d["activation_bytes"] + d["scratch_bytes"] + d["runtime_bytes"] + d["projector_bytes"]
assert abs(parts - d["total_bytes"]) < 1, d
assert d["parallel"] == 2 and d["kv_type"] == "Q8_0" and d["n_ctx"] == 4096, d
assert abs(sum(g["bytes"] for g in d["kv_cache_per_sequence"]) * 2 - d["kv_cache_bytes"]) < 1, d
assert any(g["positions"] == 0 for g in d["kv_cache_per_sequence"]), "no shared-KV group"
assert abs(d["decode_tokens_per_s"] - 10e9 / d["decode_bytes_per_token"]) < 1e-6 * d["decode_tokens_per_s"], d
assert d["verdict"] in ("fits", "tight"), d
PYEOF

# 2. A context no machine has memory for: "does not fit", exit 3; run refuses it and says how out.
expect 3 "does not fit" "$GEMRUN" fit -m "$M/g3-tiny-q4_0.gguf" -c 1000000000 --bandwidth 1
expect 3 "--no-fit-check" "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p hi -c 1000000000
grep -qF "gemrun fit" "$T/out" || fail "run's refusal does not name gemrun fit"

# 3. A remote reference: only the header, in growing Range requests, never the whole file.
HERE=$(cd "$(dirname "$0")" && pwd)
$PY "$HERE/hf_mock_server.py" "$T/port" "$T/log" "$M/g3-tiny-q4_0.gguf" "$M/g3-tiny-q8_0.gguf" \
  "$V/g4v-f32.gguf" "$V/g4v-mmproj-f16.gguf" "$M/g4-tiny-q4_k_m.gguf" "$M/g3-tiny-q4_k_m.gguf" \
  "$M/g4-tiny-q8_0.gguf" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "mock server did not start"
export HF_ENDPOINT=http://127.0.0.1:$(cat "$T/port")
GEMRUN_OFFLINE=1 "$GEMRUN" fit -m org/tiny-GGUF:Q8_0 > "$T/out" 2>&1 && fail "offline fit of a remote ref succeeded"
grep -qF "offline" "$T/out" || { cat "$T/out"; fail "offline refusal does not say so"; }
[ ! -s "$T/log" ] || fail "offline mode touched the network: $(cat "$T/log")"
GEMRUN_TEST_FIT_HEADER_BYTES=4096 "$GEMRUN" fit -m org/tiny-GGUF:Q8_0 -c 4096 --bandwidth 10 --json > "$T/remote.json" ||
  fail "remote fit"
"$GEMRUN" fit -m "$M/g3-tiny-q8_0.gguf" -c 4096 --bandwidth 10 --json > "$T/same.json" || fail "local fit"
$PY - "$T/remote.json" "$T/same.json" "$T/log" "$(stat -c %s "$M/g3-tiny-q8_0.gguf")" <<'PYEOF' || fail "remote fit"
import json, sys
r, l = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "scratch_bytes", "runtime_bytes", "decode_bytes_per_token"):
    assert r[k] == l[k], (k, r[k], l[k])
assert r["model"].startswith("http://127.0.0.1:"), r["model"]
log = [json.loads(x) for x in open(sys.argv[3])]
cdn = [x for x in log if x["path"].startswith("/cdn/")]
assert len(cdn) >= 2, log                                  # 4 KiB was not enough: it grew
assert all(x["range"] and x["range"].startswith("bytes=") and not x["range"].endswith("-") for x in cdn), cdn
assert cdn[0]["range"] == "bytes=0-4095", cdn[0]
sent = sum(x.get("sent", 0) for x in cdn)
assert sent < int(sys.argv[4]) / 2, (sent, sys.argv[4])  # the tensors were never fetched
PYEOF
# A repo with a projector: it is counted.
"$GEMRUN" fit -m org/vis-GGUF:F32 --bandwidth 10 --json > "$T/vis.json" || fail "remote fit with projector"
$PY -c "import json,sys; d=json.load(open('$T/vis.json')); assert d['projector_bytes'] > 0, d" || fail "projector not counted"
echo "fit e2e: ok"
