#!/usr/bin/env bash
# e2e for `gemrun batch` with the tiny fixture model: records in input order with --parallel 3,
# per-line errors (not JSON, refused field, refused schema, over-long prompt) that do not stop
# the batch, ids echoed, a response_format line whose answer is valid JSON under its schema and
# one that fails closed, greedy output identical to `gemrun run`, --resume after kill -9 and
# after a torn last record, exit codes (0, 4 with failed records, 1 usage, 2 files).
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -uo pipefail
GEMRUN=$1 DATA=$2
M=$DATA/testdata/models/g3-tiny-q4_0.gguf
T=$(mktemp -d)
BG=
trap '[ -n "$BG" ] && kill -9 "$BG" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok   $*"; }
batch() { "$GEMRUN" batch -m "$M" -t 2 -c 256 "$@"; }
expect_rc() { local want=$1; shift; "$@" >"$T/stdout" 2>"$T/err"; rc=$?
  [ $rc -eq "$want" ] || fail "$* exited $rc, want $want: $(tail -5 "$T/err")"; }
# Records without the per-run fields, for comparing two runs: "created", and the prompt tokens a
# slot's cache happened to hold (a resumed run starts with empty caches; the text is the same).
strip() { /usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    j = json.loads(l)
    if j.get("response"):
        j["response"].pop("created", None)
        j["response"]["usage"].pop("prompt_tokens_details", None)
    print(json.dumps(j, sort_keys=True))' "$1"; }

# 1. Ordering, errors and ids: 12 requests of different lengths (they finish out of order).
{
  for i in $(seq 1 12); do
    n=$(( (i * 7) % 13 + 2 ))
    printf '{"custom_id":"r%d","messages":[{"role":"user","content":"item %d"}],"max_tokens":%d,"temperature":0}\n' "$i" "$i" "$n"
    if [ "$i" = 3 ]; then echo '{"custom_id":"bad-json", "messages": [}'; fi
    if [ "$i" = 5 ]; then echo; echo '{"id":17,"messages":[{"role":"user","content":"x"}],"frobnicate":1}'; fi
    if [ "$i" = 7 ]; then echo '{"custom_id":"bad-schema","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","if":{},"then":{}}}}}'; fi
    if [ "$i" = 9 ]; then printf '{"custom_id":"long","messages":[{"role":"user","content":"%s"}]}\n' "$(printf 'word %.0s' $(seq 1 400))"; fi
  done
} >"$T/in.jsonl"
expect_rc 4 batch "$T/in.jsonl" -o "$T/out.jsonl" --parallel 3 --json
/usr/bin/python3 - "$T/in.jsonl" "$T/out.jsonl" "$T/stdout" <<'PY' || fail "ordering/errors: $(cat "$T/out.jsonl")"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
want = [i + 1 for i, l in enumerate(lines) if l.strip()]
recs = [json.loads(l) for l in open(sys.argv[2])]
assert [r["line"] for r in recs] == want, ([r["line"] for r in recs], want)
by = {r.get("custom_id", r.get("id")): r for r in recs}
for i in range(1, 13):
    r = by["r%d" % i]
    assert r["error"] is None, r
    c = r["response"]["choices"][0]
    assert r["response"]["object"] == "chat.completion" and c["message"]["role"] == "assistant", r
    assert r["response"]["usage"]["completion_tokens"] <= (i * 7) % 13 + 2, r
bad = [r for r in recs if r["line"] == 4][0]  # not JSON: no id to echo
assert bad["error"]["type"] == "invalid_request_error" and bad["response"] is None and "id" not in bad, bad
assert "the line is not valid JSON (at byte" in bad["error"]["message"], bad
assert by[17]["error"]["code"] == "unsupported_parameter" and "frobnicate" in by[17]["error"]["message"], by[17]
assert "'if'" in by["bad-schema"]["error"]["message"], by["bad-schema"]
assert by["long"]["error"]["code"] == "context_length_exceeded", by["long"]
s = json.load(open(sys.argv[3]))
assert s["requests"] == 16 and s["ok"] == 12 and s["failed"] == 4 and s["skipped"] == 0, s
PY
grep -q "16 requests: 12 ok, 4 failed" "$T/err" || fail "summary: $(cat "$T/err")"
ok "order with --parallel 3, per-line errors, ids, exit 4"

# 2. Greedy batch output is the output of `gemrun run` (chat template, same prompt).
for p in "hello" "why is the sky blue"; do
  printf '{"messages":[{"role":"user","content":"%s"}],"max_tokens":12,"temperature":0}\n' "$p"
done >"$T/det.jsonl"
expect_rc 0 batch "$T/det.jsonl" -o "$T/det.out" --parallel 2
i=0
for p in "hello" "why is the sky blue"; do
  i=$((i + 1))
  "$GEMRUN" run -m "$M" -t 2 -c 256 -p "$p" -n 12 --temp 0 --json --no-stdin 2>/dev/null >"$T/run.json" || fail "run $p"
  /usr/bin/python3 - "$T/run.json" "$T/det.out" "$i" <<'PY' || fail "batch != run for '$p': $(cat "$T/run.json") vs $(sed -n ${i}p "$T/det.out")"
import json, sys
run = json.loads([l for l in open(sys.argv[1]).read().splitlines() if l.strip()][-1])
rec = [json.loads(l) for l in open(sys.argv[2])][int(sys.argv[3]) - 1]
msg = rec["response"]["choices"][0]["message"]["content"]
assert msg == run["text"], (msg, run["text"])
assert rec["response"]["usage"]["completion_tokens"] == run["usage"]["completion_tokens"], (rec, run)
PY
done
ok "greedy batch == run"

# 3. Structured output: a schema answer parses and validates; one cut short fails closed.
S='{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}'
{
  for seed in 1 2 3; do
    printf '{"custom_id":"s%d","seed":%d,"max_tokens":48,"messages":[{"role":"user","content":"ok?"}],"response_format":{"type":"json_schema","json_schema":{"name":"v","strict":true,"schema":%s}}}\n' "$seed" "$seed" "$S"
  done
  echo '{"custom_id":"cut","seed":1,"max_tokens":3,"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"a_long_property_name":{"type":"string","minLength":20}},"required":["a_long_property_name"]}}}}'
} >"$T/schema.jsonl"
expect_rc 4 batch "$T/schema.jsonl" -o "$T/schema.out" --parallel 2
/usr/bin/python3 - "$T/schema.out" "$S" <<'PY' || fail "schema: $(cat "$T/schema.out")"
import json, sys, jsonschema
recs = {r["custom_id"]: r for r in map(json.loads, open(sys.argv[1]))}
schema = json.loads(sys.argv[2])
valid = 0
for k in ("s1", "s2", "s3"):
    r = recs[k]
    if r["error"] is not None:  # only ever the fail-closed error, never broken JSON as a success
        assert r["error"]["code"] == "constraint_incomplete" and r["response"] is None, r
        continue
    jsonschema.validate(json.loads(r["response"]["choices"][0]["message"]["content"]), schema)
    valid += 1
assert valid >= 1, recs
cut = recs["cut"]
assert cut["response"] is None and cut["error"]["type"] == "invalid_response_error", cut
assert cut["error"]["code"] == "constraint_incomplete", cut
PY
ok "response_format: valid JSON, fail closed when cut"

# 4. --resume after kill -9 mid-way: the final OUT equals an uninterrupted run's.
# 120 requests of 32 tokens: long enough (seconds, even on a fast idle machine) to be killed mid-way.
for i in $(seq 1 120); do
  printf '{"id":"k%d","messages":[{"role":"user","content":"resume item %d"}],"max_tokens":32,"temperature":0}\n' "$i" "$i"
done >"$T/k.jsonl"
expect_rc 0 batch "$T/k.jsonl" -o "$T/k.full" --parallel 3
# gemrun itself in the background (not the shell function: $! would be a subshell, and the kill
# would leave gemrun writing on).
"$GEMRUN" batch -m "$M" -t 2 -c 256 "$T/k.jsonl" -o "$T/k.out" --parallel 3 2>"$T/k.err" &
BG=$!
for _ in $(seq 1 600); do
  [ -f "$T/k.out" ] && [ "$(wc -l <"$T/k.out")" -ge 4 ] && break
  kill -0 "$BG" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$BG" 2>/dev/null
wait "$BG" 2>/dev/null
BG=
n=$(wc -l <"$T/k.out")
[ "$n" -ge 4 ] && [ "$n" -lt 120 ] || fail "kill -9 mid-way: OUT has $n records (want 4..119)"
expect_rc 0 batch "$T/k.jsonl" -o "$T/k.out" --parallel 3 --resume --json
grep -q "resuming: $n of 120" "$T/err" || fail "resume note: $(cat "$T/err")"
/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["skipped"]==int(sys.argv[2]) and s["ok"]==120-int(sys.argv[2]), s' "$T/stdout" "$n" ||
  fail "resume summary: $(cat "$T/stdout")"
[ "$(strip "$T/k.out")" = "$(strip "$T/k.full")" ] || fail "resumed OUT differs from an uninterrupted run"
ok "--resume after kill -9 ($n of 120 were done)"

# 5. A torn last record (cut mid-line) is dropped and redone; a finished OUT is left as is.
head -c "$(( $(head -n 10 "$T/k.full" | wc -c) + 25 ))" "$T/k.full" >"$T/torn.out"
expect_rc 0 batch "$T/k.jsonl" -o "$T/torn.out" --resume
grep -q "torn record" "$T/err" && grep -q "resuming: 10 of 120" "$T/err" || fail "torn: $(cat "$T/err")"
[ "$(strip "$T/torn.out")" = "$(strip "$T/k.full")" ] || fail "torn record not redone"
cp "$T/k.full" "$T/done.out"
expect_rc 0 batch "$T/k.jsonl" -o "$T/done.out" --resume
cmp -s "$T/done.out" "$T/k.full" || fail "resume of a complete OUT changed it"
# An OUT of another input is refused (exit 2), not appended to.
expect_rc 2 batch "$T/det.jsonl" -o "$T/k.full" --resume
grep -q "belongs to another input" "$T/err" || fail "foreign OUT: $(cat "$T/err")"
ok "--resume: torn record redone, complete OUT kept, foreign OUT refused"

# 6. Usage and file errors.
expect_rc 1 batch "$T/k.jsonl" -o "$T/x.out" --parallel 0
expect_rc 1 "$GEMRUN" batch -m "$M" "$T/k.jsonl"
expect_rc 1 batch "$T/k.jsonl" -o "$T/x.out" --temp -1
grep -q "temperature" "$T/err" || fail "bad --temp message: $(cat "$T/err")"
expect_rc 2 batch "$T/missing.jsonl" -o "$T/x.out"
grep -q "missing.jsonl" "$T/err" || fail "missing input message: $(cat "$T/err")"
expect_rc 2 batch "$T/k.jsonl" -o "$T/no/such/dir/out.jsonl"
expect_rc 2 "$GEMRUN" batch -m "$T/missing.gguf" "$T/k.jsonl" -o "$T/x.out"
expect_rc 0 "$GEMRUN" batch --help
grep -q "exit codes: 0 every request answered, 4" "$T/stdout" || fail "--help lacks the exit codes: $(cat "$T/stdout")"
ok "exit codes"
echo "batch e2e: ok"
