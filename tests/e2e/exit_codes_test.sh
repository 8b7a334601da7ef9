#!/usr/bin/env bash
# e2e: every documented exit code (0 ok, 1 usage, 2 model/file, 3 runtime), including bad model
# files that used to be reported as usage errors, and `run` with a stdin pipe that stays open.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -uo pipefail
GEMRUN=$1 DATA=$2
M=$DATA/testdata/models/g3-tiny-q4_0.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# expect CODE NEEDLE -- ARGS...: runs gemrun (stdin closed), checks the exit code and that
# stderr names the problem.
expect() {
  local want=$1 needle=$2; shift 3
  local err rc
  err=$("$GEMRUN" "$@" --no-stdin 2>&1 >/dev/null </dev/null); rc=$?
  [ "$rc" -eq "$want" ] || fail "gemrun $*: exit $rc, want $want: $err"
  grep -q -- "$needle" <<<"$err" || fail "gemrun $*: message lacks '$needle': $err"
  grep -qi "terminate\|core dumped\|Aborted" <<<"$err" && fail "gemrun $*: crashed: $err"
  return 0
}
patched() {  # patched NAME OP... -> path of a patched copy of the fixture
  local name=$1; shift
  /usr/bin/python3 "$HERE/gguf_patch.py" "$M" "$TMP/$name.gguf" "$@" || fail "patching $name"
  echo "$TMP/$name.gguf"
}

# 0: ok.
expect 0 "gen 2 tok" -- run -m "$M" -p hi -n 2 --temp 0
# 1: usage errors.
expect 1 "temp" -- run -m "$M" -p hi --temp -1
expect 1 "" -- run -m "$M" -p hi --no-such-flag
# 2: missing, corrupt or not-a-model files.
expect 2 "no such file" -- run -m "$TMP/missing.gguf" -p hi
expect 2 "not a regular file" -- run -m "$TMP" -p hi
head -c 100 "$M" > "$TMP/short.gguf"
expect 2 "short.gguf" -- run -m "$TMP/short.gguf" -p hi
# 2: well-formed files whose content is not a usable model (these exited 1 before).
expect 2 "has shape \[128\], expected \[256\]" -- run -m "$(patched shape tensor-ne blk.0.ffn_norm.weight 0 128)" -p hi
expect 2 "implausible attention shape" -- run -m "$(patched attn key-u32 gemma3.attention.key_length 0 key-u32 gemma3.attention.value_length 0)" -p hi
expect 2 "should be an integer" -- run -m "$(patched type key-type gemma3.context_length f32)" -p hi
expect 2 "embedding table only 1024 rows\|token_embd" -- run -m "$(patched vocab tensor-ne token_embd.weight 1 1024)" -p hi
# A projector that does not belong to the model is a model-file problem too (was exit 1).
expect 2 "produces embeddings of size 128" -- run -m "$M" --mmproj "$DATA/vision/models/g4v-mmproj-f16.gguf" \
  --image "$DATA/vision/images/tiny-5x3.png" -p hi
# 3: runtime: a context that cannot fit in memory is refused up front, naming -c and the bytes
# (it used to end in std::bad_alloc and abort with 134, or the OOM killer).
expect 3 "not enough memory.*(-c).*bytes" -- run -m "$M" -p hi -c 4000000000

# `run` with a stdin pipe that never sends or closes finishes (it waited forever before).
exec 3< <(sleep 60)
SLEEPER=$!
start=$(date +%s)
out=$(timeout 30 "$GEMRUN" run -m "$M" -p hi -n 2 --temp 0 --json <&3 2>"$TMP/err"); rc=$?
exec 3<&-
kill "$SLEEPER" 2>/dev/null
[ "$rc" -eq 0 ] || fail "open stdin pipe: exit $rc: $(cat "$TMP/err")"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "open stdin pipe: took too long"
grep -q "sent nothing within" "$TMP/err" || fail "open stdin pipe: no note on stderr: $(cat "$TMP/err")"
# -f - reads stdin to EOF even when it is slow to start.
a=$("$GEMRUN" run -m "$M" -p why -n 1 --temp 0 --json --no-stdin | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
b=$( (sleep 1; printf 'late document text\n') | "$GEMRUN" run -m "$M" -p why -n 1 --temp 0 --json -f - |
     /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
[ "$b" -gt "$a" ] || fail "-f - did not read the late stdin ($a vs $b tokens)"
echo "exit codes e2e: ok"
