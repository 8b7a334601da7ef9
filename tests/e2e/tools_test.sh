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
# The streamed deltas add up to the non-streamed answer of the same seed: content, then each call
# in its own delta (index, id, name, arguments), finish_reason tool_calls.
python3 -c '
import json, sys
resp = json.load(open(sys.argv[1])); whole = resp["choices"][0]
calls, content, finish, err = {}, "", None, None
for line in open(sys.argv[2]):
    if not line.startswith("data: {"): continue
    ev = json.loads(line[6:])
    if "error" in ev: err = ev; continue
    ch = ev["choices"][0]; d = ch["delta"]
    content += d.get("content") or ""
    for t in d.get("tool_calls", []):
        assert t["index"] not in calls, ("a call split or repeated", ev)
        calls[t["index"]] = t
    finish = ch.get("finish_reason") or finish
if "error" in resp or "error" in whole: assert err is not None; sys.exit(0)
assert err is None, err
assert finish == whole["finish_reason"], (finish, whole)
want = whole["message"].get("tool_calls") or []
assert [calls[i]["function"] for i in sorted(calls)] == [w["function"] for w in want], (calls, want)
assert [calls[i]["id"] for i in sorted(calls)] == [w["id"] for w in want]
assert content == (whole["message"]["content"] or ""), (content, whole)
' "$WORK/resp" "$WORK/sse" || fail "streamed tool_calls differ from the whole answer: $(cat "$WORK/sse")"
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

# 4. Gemma 4 server: native call syntax and thinking in one stream. The deltas add up to the
# non-streamed answer of the same seed, thoughts only in reasoning_content, no markers anywhere.
kill "${PIDS[@]}" 2>/dev/null || true
start_server "$DATA/testdata/models/g4-tiny-q8_0.gguf"
BASE=http://127.0.0.1:$PORT
G4REQ='"model":"m","seed":5,"max_tokens":120,"messages":[{"role":"user","content":"go"}],"tools":'"$TJ"',"tool_choice":"required","reasoning_effort":"high","thinking_budget_tokens":6'
code=$(post /v1/chat/completions "{$G4REQ}")
[ "$code" = 200 ] || fail "g4 tools+thinking: $code $(cat "$WORK/resp")"
curl -s -N "$BASE/v1/chat/completions" -d "{$G4REQ,\"stream\":true}" >"$WORK/sse"
python3 -c '
import json, sys
resp = json.load(open(sys.argv[1])); whole = resp["choices"][0]
calls, content, thought, finish, err = {}, "", "", None, None
for line in open(sys.argv[2]):
    if not line.startswith("data: {"): continue
    ev = json.loads(line[6:])
    if "error" in ev: err = ev; continue
    ch = ev["choices"][0]; d = ch["delta"]
    content += d.get("content") or ""
    thought += d.get("reasoning_content") or ""
    for t in d.get("tool_calls", []): calls[t["index"]] = t
    finish = ch.get("finish_reason") or finish
for text in (content, thought, whole["message"].get("content") or ""):
    for marker in ("<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|\x22|>"):
        assert marker not in text, (marker, text)
if "error" in resp or "error" in whole: assert err is not None; sys.exit(0)
assert err is None, err
assert finish == whole["finish_reason"], (finish, whole)
assert thought == (whole["message"].get("reasoning_content") or ""), (thought, whole)
want = whole["message"].get("tool_calls") or []
assert [calls[i]["function"] for i in sorted(calls)] == [w["function"] for w in want], (calls, want)
assert content == (whole["message"]["content"] or ""), (content, whole)
' "$WORK/resp" "$WORK/sse" || fail "g4 streamed tools+thinking differ from the whole answer: $(cat "$WORK/sse")"
grep -q "\"tool_calls\"" "$WORK/sse" || grep -q "\"error\"" "$WORK/sse" || fail "g4: no calls streamed"
ok "server g4 streamed tool_calls with thinking"
# Thought budgets: 0 is no thought at all; a bad value is a 400 naming the field.
code=$(post /v1/chat/completions '{"model":"m","seed":5,"max_tokens":8,"messages":[{"role":"user","content":"go"}],"reasoning_effort":"high","reasoning_budget_tokens":0}')
[ "$code" = 200 ] || fail "budget 0: $code $(cat "$WORK/resp")"
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["choices"][0]["message"]
assert not m.get("reasoning_content"), m' "$WORK/resp" || fail "budget 0 still thought: $(cat "$WORK/resp")"
code=$(post /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"go"}],"thinking_budget_tokens":"lots"}')
[ "$code" = 400 ] && grep -q thinking_budget_tokens "$WORK/resp" || fail "bad budget: $code $(cat "$WORK/resp")"
ok "server thinking budget fields"
echo "tools e2e: ok"
