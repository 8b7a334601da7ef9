#!/usr/bin/env bash
# e2e for `ask` / `check` with --remote (loopback only; the recording fake OpenAI endpoint of
# tests/e2e/remote): the router's rule decides (never sends nothing; always; auto when the input
# does not fit the context), the planted secrets of tests/data/redact never reach the wire, a
# remote failure falls back to the local plan, and a remote verdict that does not satisfy the
# check schema is refused (the local verdict gates).
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=$DATA/testdata/models/g3-tiny-q4_0.gguf
CORPUS=$DATA/redact/corpus.log
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.err; do [ -f "$l" ] && { echo "--- $l"; tail -n 8 "$l"; }; done; exit 1; }
ok() { echo "ok   $*"; }
export XDG_STATE_HOME=$WORK/state

REC=$WORK/rec
mkdir -p "$REC"
python3 "$HERE/remote/fake_openai.py" "$REC" >"$WORK/fake.out" 2>"$WORK/fake.err" &
PIDS+=($!)
for _ in $(seq 1 50); do FPORT=$(awk '/^port/ {print $2}' "$WORK/fake.out"); [ -n "$FPORT" ] && break; sleep 0.1; done
[ -n "$FPORT" ] || fail "fake server did not start"
FAKE=http://127.0.0.1:$FPORT
nbodies() { find "$REC" -name 'body-*.json' | wc -l; }
printf 'Globex Industries\nregex:CUST-[0-9]{5}\n' >"$WORK/words"  # the user rules planted.txt expects

# g NAME CMD ARGS...: gemrun ask/check on the corpus; stdout NAME.out, stderr NAME.err, rc in RC.
g() {
  local name=$1 cmd=$2
  shift 2
  set +e
  "$GEMRUN" "$cmd" -m "$MODEL" -t 2 --answer-tokens "${AT:-16}" --note-tokens 16 -c "${CTX:-4096}" \
    --redact-file "$WORK/words" "$@" "$CORPUS" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
  RC=$?
  set -e
}

g never ask -p "Why does the app fail?" --remote "$FAKE/ok" --escalate never
[ "$RC" -eq 0 ] || fail "ask --escalate never: exit $RC"
[ "$(nbodies)" -eq 0 ] || fail "ask --escalate never sent $(nbodies) request(s)"
grep -q "route: local" "$WORK/never.err" || fail "ask never: no route line"
ok "ask --escalate never: nothing sent, decision printed"

g always ask -p "Why does the app fail?" --remote "$FAKE/ok" --escalate always --json
[ "$RC" -eq 0 ] || fail "ask --escalate always: exit $RC"
[ "$(nbodies)" -ge 1 ] || fail "ask --escalate always sent nothing"
grep -q "route: remote" "$WORK/always.err" || fail "ask always: no remote route line"
python3 - "$WORK/always.out" <<'PY' || fail "ask always: the answer is not the remote one"
import json, sys
rec = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert rec["route"] == "remote" and rec["answer"].startswith("Seen:"), rec
PY
ok "ask --escalate always: the remote answers, placeholders restored"

CTX=1024 g ctx ask -p "Why does the app fail?" --remote "$FAKE/ok" --escalate auto
[ "$RC" -eq 0 ] || fail "ask auto, small context: exit $RC"
grep -q "route: remote (prompt of [1-9][0-9,]* tokens does not fit" "$WORK/ctx.err" || fail "ask auto: the too-large input did not escalate: $(grep route "$WORK/ctx.err")"
ok "ask --escalate auto: an input larger than the context goes to the remote whole"

n0=$(nbodies)
g fail500 ask -p "Why does the app fail?" --remote "$FAKE/500" --escalate always --remote-retries 0
[ "$RC" -eq 0 ] || fail "ask with a failing remote: exit $RC (want the local answer)"
grep -q "local answer instead" "$WORK/fail500.err" || fail "ask 500: no fallback note: $(cat "$WORK/fail500.err")"
[ -s "$WORK/fail500.out" ] || fail "ask 500: no local answer printed"
ok "ask: a remote 500 falls back to the local answer and says so"

echo '{"type":"object","properties":{"pass":{"type":"boolean"},"severity":{"enum":["low","high"]}},"required":["pass","severity"],"additionalProperties":false}' >"$WORK/v.json"
AT=48 g checkjson check -p "Is this log healthy?" --schema "$WORK/v.json" --remote "$FAKE/json" --escalate always
[ "$RC" -le 1 ] || fail "check with a schema-breaking remote verdict: exit $RC"
grep -q "does not satisfy the schema" "$WORK/checkjson.err" || fail "check: the remote verdict was not checked: $(cat "$WORK/checkjson.err")"
python3 -c 'import json,sys; v=json.loads(open(sys.argv[1]).read()); assert "pass" in v, v' "$WORK/checkjson.out" ||
  fail "check: stdout is not the local verdict"
ok "check: a remote verdict that breaks the schema is refused, the local verdict gates"

# Nothing planted in tests/data/redact reached the wire in any request above.
python3 - "$REC" "$DATA/redact/planted.txt" <<'PY' || fail "a planted secret reached the wire"
import base64, glob, json, sys, urllib.parse
secrets = [l.rstrip("\n") for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
for f in glob.glob(sys.argv[1] + "/body-*.json"):
    raw = open(f, "rb").read().decode("utf-8", "replace")
    views = [raw, json.dumps(json.loads(raw), ensure_ascii=False), urllib.parse.unquote(raw)]
    for s in secrets:
        for v in views:
            assert s not in v, (f, s)
        assert base64.b64encode(s.encode()).decode() not in raw, (f, s)
print(f"{len(secrets)} planted values absent from {len(glob.glob(sys.argv[1] + '/body-*.json'))} bodies")
PY
ok "no planted secret in any of the $(nbodies) recorded bodies"
echo "all passed"
