#!/usr/bin/env bash
# e2e for escalation to a remote engine (`run --remote`), loopback only, real processes: a
# recording fake OpenAI endpoint (tests/e2e/remote/fake_openai.py) and a second `gemrun serve`.
# Checks: the planted secrets of tests/data/redact never reach the wire (byte for byte, and
# URL-/base64-/JSON-decoded), the audit log matches the recorded bodies (sha256), placeholders
# come back restored, `--escalate never` and no --remote send nothing, the routing rules (always,
# context, confidence, schema), budgets, and each fault (500, timeout, slow stream, invalid JSON)
# ends in the documented fallback (exit 0 + warning) or error (exit 3 without a local answer).
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
export XDG_STATE_HOME=$WORK/state  # the daily budget file lives here, not in the user's home

REC=$WORK/rec
mkdir -p "$REC"
python3 "$HERE/remote/fake_openai.py" "$REC" >"$WORK/fake.out" 2>"$WORK/fake.err" &
PIDS+=($!)
for _ in $(seq 1 50); do FPORT=$(awk '/^port/ {print $2}' "$WORK/fake.out"); [ -n "$FPORT" ] && break; sleep 0.1; done
[ -n "$FPORT" ] || fail "fake server did not start"
FAKE=http://127.0.0.1:$FPORT
nbodies() { find "$REC" -name 'body-*.json' | wc -l; }
printf 'e2e-remote-key-123\n' >"$WORK/key"
printf 'Globex Industries\nregex:CUST-[0-9]{5}\n' >"$WORK/words"

# run_g NAME ARGS...: gemrun run on the corpus; stdout in NAME.out, stderr in NAME.err, rc in RC.
run_g() {
  local name=$1
  shift
  set +e
  "$GEMRUN" run -m "$MODEL" -t 2 --temp 0 -n "${N:-8}" -c "${CTX:-4096}" --no-stdin -f "$CORPUS" -p "Why does the app fail?" \
    --redact-file "$WORK/words" "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err"
  RC=$?
  set -e
}

# 1. No --remote: no socket is ever connected (strace when present), and the output is local.
if command -v strace >/dev/null; then
  strace -f -qq -e trace=connect -o "$WORK/strace.txt" "$GEMRUN" run -m "$MODEL" -t 2 -n 4 --no-stdin -p hi >/dev/null 2>&1 ||
    fail "plain run failed"
  grep -q 'AF_INET' "$WORK/strace.txt" && fail "run without --remote connected a socket: $(grep AF_INET "$WORK/strace.txt")"
  ok "no --remote: no network connection (strace)"
else
  echo "skip no-network strace check (strace not installed)"
fi

# 2. --escalate never with --remote: nothing sent, decision printed.
run_g never --remote "$FAKE/ok" --escalate never --audit "$WORK/never.audit"
[ "$RC" = 0 ] || fail "never: rc $RC"
[ "$(nbodies)" = 0 ] || fail "never: $(nbodies) requests reached the server"
[ ! -e "$WORK/never.audit" ] || fail "never: an audit line was written"
grep -q 'route: local (--escalate never)' "$WORK/never.err" || fail "never: decision not printed"
ok "--escalate never sends nothing"

# 3. always: the body is redacted, audited, and the answer restored.
run_g always --remote "$FAKE/ok" --escalate always --remote-key-file "$WORK/key" \
  --audit "$WORK/always.audit" --json
[ "$RC" = 0 ] || fail "always: rc $RC"
[ "$(nbodies)" = 1 ] || fail "always: $(nbodies) bodies"
grep -q 'route: remote (--escalate always)' "$WORK/always.err" || fail "always: decision not printed"
[ "$(cat "$REC/auth-1.txt")" = "Bearer e2e-remote-key-123" ] || fail "always: key not sent as a bearer token"
cat >"$WORK/check_bodies.py" <<'PY'
import base64, glob, hashlib, json, sys, urllib.parse
rec, planted, audit, out, keyf = sys.argv[1:]
secrets = [l.rstrip("\n") for l in open(planted) if l.strip() and not l.startswith("#")]
bodies = {p: open(p, "rb").read() for p in glob.glob(rec + "/body-*.json")}
bad = []
print(f"{len(secrets)} planted values checked in {len(bodies)} bodies ({sum(map(len, bodies.values()))} bytes)")
for p, b in bodies.items():
    text = b.decode("utf-8", "replace")
    views = {"raw": text, "url-decoded": urllib.parse.unquote(text), "json-decoded": json.dumps(json.loads(text), ensure_ascii=False)}
    # base64 runs in the body, decoded
    import re
    for run in re.findall(r"[A-Za-z0-9+/=]{16,}", text):
        try: views.setdefault("b64", ""); views["b64"] += base64.b64decode(run + "=" * (-len(run) % 4)).decode("latin1") + "\n"
        except Exception: pass
    for s in secrets:
        for name, v in views.items():
            if s in v: bad.append(f"{s!r} in {name} {p}")
        for enc in (base64.b64encode(s.encode()).decode(), urllib.parse.quote(s, safe="")):
            if len(enc) > len(s) and enc in text: bad.append(f"encoded {s!r} in {p}")
if audit == "-":  # bodies only
    if bad: print("\n".join(bad)); sys.exit(1)
    sys.exit(0)
key = open(keyf).read().strip()
lines = [json.loads(l) for l in open(audit)]
if len(lines) != len(bodies): bad.append(f"{len(lines)} audit lines for {len(bodies)} bodies")
recorded = {hashlib.sha256(b).hexdigest() for b in bodies.values()}
for l in lines:
    if hashlib.sha256(l["body"].encode()).hexdigest() != l["body_sha256"]: bad.append("audit body/sha mismatch")
    if l["body_sha256"] not in recorded: bad.append("audit sha256 matches no recorded body")
    if l["outcome"] != "ok" or l["rule"] != "always": bad.append(f"audit outcome {l['outcome']} rule {l['rule']}")
if key in open(audit).read(): bad.append("the API key is in the audit log")
o = json.loads(open(out).read())
t = o["text"]
for want in ["web-01", "203.0.113.45", "db-primary.prod.acme-internal.com", "bob@example.org", "3c:97:0e:12:ab:cd",
             "2001:db8:85a3::8a2e:370:7334", "Globex Industries", "CUST-48213", "<SECRET_1>"]:
    if want not in t: bad.append(f"answer lacks restored {want!r}: {t[:200]}")
for s in ["Tr0ub4dor&3", "AKIAZ7Q3EXAMPLE4WX2Q"]:
    if s in t: bad.append(f"secret {s!r} restored into the answer")
if o["route"]["answered_by"] != "remote": bad.append(f"route {o['route']}")
if bad: print("\n".join(bad)); sys.exit(1)
PY
python3 "$WORK/check_bodies.py" "$REC" "$DATA/redact/planted.txt" "$WORK/always.audit" "$WORK/always.out" "$WORK/key" ||
  fail "always: see above"
ok "always: no planted secret on the wire, audit = recorded bodies, placeholders restored"

# 4. auto: a prompt over the local context escalates (rule context); confidence both ways.
CTX=256 run_g ctx --remote "$FAKE/ok" --escalate auto --json
[ "$RC" = 0 ] || fail "auto/context: rc $RC"
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['route']; assert r['rule']=='context' and r['answered_by']=='remote', r" "$WORK/ctx.out" ||
  fail "auto/context: wrong route"
run_g conf_hi --remote "$FAKE/ok" --escalate auto --min-confidence -1000
grep -q 'route: local (confidence .* >= -1000.00)' "$WORK/conf_hi.err" || fail "auto/confidence local: $(grep route "$WORK/conf_hi.err")"
n=$(nbodies)
run_g conf_lo --remote "$FAKE/ok" --escalate auto --min-confidence 0
grep -q 'route: remote (confidence .* < 0.00)' "$WORK/conf_lo.err" || fail "auto/confidence remote: $(grep route "$WORK/conf_lo.err")"
[ "$(nbodies)" = $((n + 1)) ] || fail "auto/confidence: expected one more request"
ok "auto: context and confidence rules"

# 5. auto: a local answer that fails its schema (cut by -n 2) escalates; the remote JSON answer is used.
N=2 run_g schema --remote "$FAKE/json" --escalate auto --json-object
[ "$RC" = 0 ] || fail "auto/schema: rc $RC"
grep -q 'route: remote (local answer failed its schema' "$WORK/schema.err" || fail "auto/schema: $(grep route "$WORK/schema.err")"
python3 -c "import json,sys; json.loads(open(sys.argv[1]).read())" "$WORK/schema.out" || fail "auto/schema: answer not JSON"
ok "auto: schema failure escalates"

# 6. Faults: each falls back to the local answer (exit 0 + warning) ...
n=$(nbodies)
run_g f500 --remote "$FAKE/500" --escalate always --remote-retries 2 --audit "$WORK/f500.audit"
[ "$RC" = 0 ] && grep -q 'warning: the remote was not used (.*HTTP 500.*after 3 attempts' "$WORK/f500.err" ||
  fail "500: rc $RC $(grep -E 'route|warning' "$WORK/f500.err")"
[ "$(nbodies)" = $((n + 3)) ] || fail "500: expected 3 attempts"
grep -q '"outcome":"error"' "$WORK/f500.audit" || fail "500: audit outcome"
start=$(date +%s)
run_g ftimeout --remote "$FAKE/timeout" --escalate always --remote-timeout 2
[ "$RC" = 0 ] && grep -q 'timed out after 2000 ms' "$WORK/ftimeout.err" || fail "timeout: rc $RC $(grep warning "$WORK/ftimeout.err")"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "timeout: took too long"
run_g fslow --remote "$FAKE/slowstream" --escalate always --remote-stream --remote-timeout 3
[ "$RC" = 0 ] && grep -q 'timed out' "$WORK/fslow.err" || fail "slow stream: rc $RC $(grep warning "$WORK/fslow.err")"
run_g fbad --remote "$FAKE/badjson" --escalate always
[ "$RC" = 0 ] && grep -q 'invalid JSON' "$WORK/fbad.err" || fail "invalid JSON: rc $RC $(grep warning "$WORK/fbad.err")"
run_g stream --remote "$FAKE/stream" --escalate always --remote-stream
[ "$RC" = 0 ] && grep -q '^Seen: web-01' "$WORK/stream.out" || fail "stream: rc $RC $(head -c 200 "$WORK/stream.out")"
# ... and without a local answer (the prompt does not fit) it is an error, exit 3.
CTX=256 run_g nolocal --remote "$FAKE/500" --escalate auto --remote-retries 0
[ "$RC" = 3 ] && grep -q 'no answer: the remote failed' "$WORK/nolocal.err" || fail "no local: rc $RC $(tail -2 "$WORK/nolocal.err")"
ok "faults: 500 (3 attempts), timeout, slow stream, invalid JSON fall back; no local answer exits 3"

# 7. Budgets: over the per-call cap no call is made; the per-day total is kept in the state file.
n=$(nbodies)
run_g budget --remote "$FAKE/ok" --escalate always --max-remote-tokens 50 --audit "$WORK/budget.audit"
[ "$RC" = 0 ] && grep -q 'over budget' "$WORK/budget.err" || fail "budget: rc $RC"
[ "$(nbodies)" = "$n" ] || fail "budget: a request was sent"
grep -q '"outcome":"over_budget"' "$WORK/budget.audit" || fail "budget: audit"
# A fresh state dir: the calls above were charged to the first one. The prompt is ~3080 tokens by
# the local count; the fake remote reports ~800 used, so a second call would pass 3500.
export XDG_STATE_HOME=$WORK/state2
run_g day1 --remote "$FAKE/ok" --escalate always --max-remote-tokens-per-day 3500
[ "$RC" = 0 ] && grep -q 'route: remote (--escalate always)$' "$WORK/day1.err" || fail "day 1: $(grep route "$WORK/day1.err")"
[ -s "$XDG_STATE_HOME/gemrun/remote-budget.json" ] || fail "day budget file missing"
run_g day2 --remote "$FAKE/ok" --escalate always --max-remote-tokens-per-day 3500
grep -q "today's remote total" "$WORK/day2.err" || fail "day 2: not refused: $(grep route "$WORK/day2.err")"
ok "budgets: per call and per day"

# 8. Usage errors (exit 1), and credentials in the URL are refused.
set +e
"$GEMRUN" run -m "$MODEL" -p hi --escalate auto 2>"$WORK/u1.err"; r1=$?
"$GEMRUN" run -m "$MODEL" -p hi --remote http://u:secretpw@127.0.0.1:1 2>"$WORK/u2.err"; r2=$?
"$GEMRUN" run -m "$MODEL" -p hi --remote "$FAKE/ok" --redact-file "$WORK/missing" 2>"$WORK/u3.err"; r3=$?
set -e
[ "$r1" = 1 ] && [ "$r2" = 1 ] && [ "$r3" = 2 ] || fail "usage: rc $r1 $r2 $r3"
ok "usage errors"

# 9. A real remote: a second gemrun serve of the tiny model.
# start_serve LOG ARGS...: a gemrun serve on a free loopback port; sets SPORT.
start_serve() {
  local log=$1
  shift
  "$GEMRUN" serve -m "$MODEL" --port 0 -t 2 -c 4096 "$@" 2>"$log" &
  PIDS+=($!)
  SPORT=""
  for _ in $(seq 1 100); do
    SPORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$SPORT" ] && break
    sleep 0.1
  done
  [ -n "$SPORT" ] || fail "serve did not start: $(cat "$log")"
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/health" || true)" = 200 ] && return 0
    sleep 0.1
  done
  fail "serve not healthy"
}
start_serve "$WORK/serve.err"
run_g real --remote "http://127.0.0.1:$SPORT/v1" --escalate always --json
[ "$RC" = 0 ] || fail "real remote: rc $RC"
python3 -c "import json,sys; o=json.load(open(sys.argv[1])); assert o['route']['answered_by']=='remote' and o['usage']['completion_tokens']>0, o" \
  "$WORK/real.out" || fail "real remote: $(cat "$WORK/real.out")"
ok "a second gemrun serve answers as the remote"

# 11. serve as a gateway: the decision in x-gemrun-route, the answer restored, fallback on failure.
chat() {  # chat PORT STREAM -> headers in $WORK/h.txt, body in $WORK/b.json
  curl -s -D "$WORK/h.txt" -o "$WORK/b.json" "http://127.0.0.1:$1/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model":"g","messages":[{"role":"user","content":"host db-7.prod.acme-internal.com at 10.9.8.7 fails, password=Hunter2xyz"}],"max_tokens":4,"stream":'"$2"'}'
}
n=$(nbodies)
start_serve "$WORK/gw1.err" --remote "$FAKE/ok" --escalate auto --min-confidence 0 --audit "$WORK/gw.audit"
chat "$SPORT" false
grep -qi '^x-gemrun-route: remote (confidence .* < 0.00)' "$WORK/h.txt" || fail "gateway: header $(grep -i route "$WORK/h.txt")"
python3 -c "
import json,sys; t=json.load(open(sys.argv[1]))['choices'][0]['message']['content']
assert 'db-7.prod.acme-internal.com' in t and '10.9.8.7' in t and 'Hunter2xyz' not in t and '<SECRET_1>' in t, t" "$WORK/b.json" ||
  fail "gateway: answer not restored: $(cat "$WORK/b.json")"
[ "$(nbodies)" = $((n + 1)) ] || fail "gateway: expected one request"
grep -q 'Hunter2xyz\|10\.9\.8\.7' "$REC/body-$((n + 1)).json" && fail "gateway: secret on the wire"
chat "$SPORT" true
grep -qi '^x-gemrun-route: local (gateway: only non-streamed' "$WORK/h.txt" || fail "gateway stream: $(grep -i route "$WORK/h.txt")"
start_serve "$WORK/gw2.err" --remote "$FAKE/500" --escalate always --remote-retries 0
chat "$SPORT" false
grep -qi '^x-gemrun-route: remote (--escalate always); remote not used, local answer instead' "$WORK/h.txt" ||
  fail "gateway fallback: $(grep -i route "$WORK/h.txt")"
grep -q '"content"' "$WORK/b.json" || fail "gateway fallback: no local answer: $(cat "$WORK/b.json")"
ok "serve gateway: x-gemrun-route, restored answer, streamed requests stay local, 500 falls back"

# 10. Every body recorded over the whole test (retries, streams, faults included) is clean.
python3 "$WORK/check_bodies.py" "$REC" "$DATA/redact/planted.txt" - - - || fail "a planted secret reached the wire"
ok "no planted secret in any of the $(nbodies) recorded bodies"
echo "remote e2e: all ok"
