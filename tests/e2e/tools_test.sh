#!/usr/bin/env bash
# e2e for tool calling and thinking on the CLI and the server (loopback), tiny random models
# from tests/data: `run --tools` (calls in the --json record, refusals exit 1 naming the function
# or keyword), `run --reasoning on` (the thought never in "text"), and the server's tools,
# tool_choice, streamed tool_calls, response_format, Ollama format/tools/think, and the
# fail-closed truncation (finish_reason "length" + an error object; a stream error event).
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
TOOLS=$DATA/constrain/tools
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 15 "$l"; }; done; exit 1; }
ok() { echo "ok   $*"; }
last() { python3 -c 'import sys; print([l for l in open(sys.argv[1]).read().splitlines() if l.strip()][-1])' "$1"; }

# 1. CLI: calls name declared functions with arguments of the declared shape, in both syntaxes.
for M in "$DATA/testdata/models/g3-tiny-q8_0.gguf" "$DATA/testdata/models/g4-tiny-q8_0.gguf"; do
  for choice in required get_logs; do
    "$GEMRUN" run -m "$M" --temp 1 --seed 2 -t 2 -n 200 --json -p "nginx is down" --tools "$TOOLS/ops-basic.json" \
      --tool-choice "$choice" </dev/null >"$WORK/out" 2>"$WORK/err.log" || { rc=$?; [ $rc -eq 3 ] && grep -qi limit "$WORK/err.log" && continue; fail "run --tools $choice: exit $rc"; }
    last "$WORK/out" | python3 -c '
import json, sys
choice = sys.argv[1]
r = json.loads(sys.stdin.read())
calls = r["tool_calls"]
assert calls, "no call with tool_choice " + choice
names = {"restart_service", "get_logs", "open_ticket"}
for c in calls:
    assert c["name"] in names, c
    if choice != "required": assert c["name"] == choice, c
    assert isinstance(c["arguments"], dict), c
    if c["name"] == "get_logs": assert set(c["arguments"]) >= {"unit"}, c
' "$choice" || fail "$(basename "$M") --tool-choice $choice: $(last "$WORK/out")"
  done
  set +e
  "$GEMRUN" run -m "$M" -n 8 -p x --tools "$TOOLS/bad-parameters.json" </dev/null >/dev/null 2>"$WORK/err"; rc=$?
  set -e
  [ $rc -eq 1 ] && grep -q '\$ref' "$WORK/err" && grep -q "get_logs" "$WORK/err" || fail "bad parameters: exit $rc: $(cat "$WORK/err")"
  set +e
  "$GEMRUN" run -m "$M" -n 8 -p x --tools "$TOOLS/ops-basic.json" --tool-choice delete_cluster </dev/null >/dev/null 2>"$WORK/err"; rc=$?
  set -e
  [ $rc -eq 1 ] && grep -q delete_cluster "$WORK/err" || fail "undeclared choice: exit $rc: $(cat "$WORK/err")"
  ok "run --tools $(basename "$M")"
done
# 2. CLI thinking: the --json record has a reasoning field and no channel marker in the answer.
"$GEMRUN" run -m "$DATA/testdata/models/g4-tiny-q8_0.gguf" --temp 0 -t 2 -n 24 --json -p hi --reasoning on \
  --reasoning-budget 8 </dev/null >"$WORK/out" 2>/dev/null || fail "run --reasoning on"
last "$WORK/out" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
assert "reasoning" in r and "<|channel>" not in r["text"] and "<channel|>" not in r["text"], r' || fail "reasoning record: $(last "$WORK/out")"
ok "run --reasoning on"

# 3. Server.
start_server() {
  "$GEMRUN" serve -m "$1" --port 0 -t 2 --ctx-size 2048 --parallel 2 2>"$WORK/server.log" &
  PIDS+=("$!")
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)
    [ -n "$PORT" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && return 0
    sleep 0.1
  done
  fail "server did not start"
}
start_server "$DATA/testdata/models/g3-tiny-q8_0.gguf"
BASE=http://127.0.0.1:$PORT
post() { curl -s -o "$WORK/resp" -w '%{http_code}' "$BASE$1" -H 'Content-Type: application/json' -d "$2"; }
TJ=$(cat "$TOOLS/ops-basic.json")
code=$(post /v1/chat/completions '{"model":"m","seed":3,"max_tokens":200,"messages":[{"role":"user","content":"go"}],"tools":'"$TJ"',"tool_choice":"required"}')
[ "$code" = 200 ] || fail "tools: $code $(cat "$WORK/resp")"
python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); c = r["choices"][0]
if c["finish_reason"] == "length": assert "error" in c, r
else:
    assert c["finish_reason"] == "tool_calls", r
    for t in c["message"]["tool_calls"]:
        assert t["type"] == "function" and t["function"]["name"] in ("restart_service", "get_logs", "open_ticket")
        assert isinstance(json.loads(t["function"]["arguments"]), dict)
' "$WORK/resp" || fail "tools answer: $(cat "$WORK/resp")"
ok "server tools"
curl -s -N "$BASE/v1/chat/completions" -d '{"model":"m","seed":3,"max_tokens":200,"stream":true,"messages":[{"role":"user","content":"go"}],"tools":'"$TJ"',"tool_choice":"required"}' >"$WORK/sse"
grep -q '"tool_calls"' "$WORK/sse" || grep -q '"error"' "$WORK/sse" || fail "streamed tool_calls: $(cat "$WORK/sse")"
grep -q '"content":"<tool_call>' "$WORK/sse" && fail "a call leaked into content: $(cat "$WORK/sse")"
ok "server streamed tool_calls"
code=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"go"}],"tools":'"$TJ"',"tool_choice":{"type":"function","function":{"name":"drop_db"}}}')
[ "$code" = 400 ] && grep -q drop_db "$WORK/resp" || fail "undeclared tool_choice: $code $(cat "$WORK/resp")"
# History with an assistant call and a tool result is accepted.
code=$(post /v1/chat/completions '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"go"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_logs","arguments":"{\"unit\":\"a.service\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"{\"ok\":true}"}],"tools":'"$TJ"'}')
[ "$code" = 200 ] || fail "tool history: $code $(cat "$WORK/resp")"
ok "server tool history"
code=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":{"type":"object","if":{},"then":{}}}}}')
[ "$code" = 400 ] && grep -q "'if'" "$WORK/resp" || fail "refused schema: $code $(cat "$WORK/resp")"
code=$(post /v1/chat/completions '{"model":"m","seed":1,"max_tokens":3,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"a_long_property_name":{"type":"string","minLength":20}},"required":["a_long_property_name"]}}}}')
python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); c = r["choices"][0]
assert c["finish_reason"] == "length" and "limit" in c["error"]["message"], r' "$WORK/resp" || fail "truncation not flagged: $(cat "$WORK/resp")"
curl -s -N "$BASE/v1/chat/completions" -d '{"model":"m","seed":1,"max_tokens":3,"stream":true,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"a_long_property_name":{"type":"string","minLength":20}},"required":["a_long_property_name"]}}}}' >"$WORK/sse"
grep -q '"error"' "$WORK/sse" || fail "stream truncation without an error event: $(cat "$WORK/sse")"
ok "server response_format fail closed"
code=$(post /api/chat '{"model":"m","stream":false,"messages":[{"role":"user","content":"x"}],"format":{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false},"options":{"seed":1,"num_predict":64}}')
python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert "error" in r or isinstance(json.loads(r["message"]["content"])["ok"], bool), r' "$WORK/resp" || fail "ollama format: $(cat "$WORK/resp")"
code=$(post /api/chat '{"model":"m","stream":false,"messages":[{"role":"user","content":"x"}],"tools":'"$TJ"',"options":{"seed":1,"num_predict":200}}')
[ "$code" = 200 ] || fail "ollama tools: $code $(cat "$WORK/resp")"
ok "server ollama format/tools"
echo "tools e2e: ok"
