#!/usr/bin/env bash
# e2e for `gemrun ask` and `gemrun check` with a tiny random model (plumbing, not answer quality):
# usage/file errors and their exit codes (before the model loads), the plan on stderr (whole,
# map-reduce, retrieve), --json output whose citations are all checked against the inputs, a
# directory tree with .gitignore / a binary file / .gz / HTML, piped stdin, check's verdict under
# a schema, --fail-if exit codes and --ndjson. Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
M="$DATA/testdata/models/g3-tiny-q8_0.gguf"
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for i in $(seq 1 12); do echo "Dec  2 10:00:$i web-01 app[1]: request $i served in ${i}ms"; done >"$T/s.log"
echo '{"type":"object","properties":{"pass":{"type":"boolean"},"severity":{"enum":["low","high"]}},"required":["pass","severity"],"additionalProperties":false}' >"$T/v.json"
ask() { "$GEMRUN" ask -m "$M" -t 2 -c 1024 --answer-tokens 16 --note-tokens 16 "$@"; }
check() { "$GEMRUN" check -m "$M" -t 2 -c 1024 --answer-tokens 48 --schema "$T/v.json" "$@"; }
expect_rc() { local want=$1; shift; set +e; "$@" >"$T/out" 2>"$T/err"; rc=$?; set -e
  [ $rc -eq "$want" ] || fail "$* exited $rc, want $want: $(cat "$T/err")"; }

# 1. Errors before any generation (a missing model would be exit 2 later: these come first).
# check's usage errors exit 64, never 1: a typo in a CI job must not read as a failed gate.
expect_rc 64 "$GEMRUN" check -m /nonexistent.gguf --fail-if 'severity in high' "$T/s.log"
grep -q -- "--fail-if 'severity in high': at position" "$T/err" || fail "bad --fail-if message: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "usage error printed a verdict"
expect_rc 64 "$GEMRUN" check -m /nonexistent.gguf --fail-if 'sevrity == "high"' "$T/s.log"
grep -q "sevrity" "$T/err" && grep -q "fields: pass, reasons, severity" "$T/err" || fail "unknown field: $(cat "$T/err")"
expect_rc 64 "$GEMRUN" check -m "$M" --no-such-flag "$T/s.log" </dev/null
expect_rc 64 "$GEMRUN" check -m "$M" "$T/s.log" -p </dev/null          # -p without its value
expect_rc 64 "$GEMRUN" check -m "$M" --temp -1 "$T/s.log" </dev/null   # a bad generation flag value
expect_rc 64 check -p q --no-stdin </dev/null                            # no input
grep -q "no input" "$T/err" || fail "check no-input message: $(cat "$T/err")"
echo '{"type":"object","if":{}}' >"$T/refused.json"
expect_rc 64 "$GEMRUN" check -m "$M" --schema "$T/refused.json" "$T/s.log" </dev/null  # a schema that does not compile
grep -q "'if'" "$T/err" || fail "refused schema message: $(cat "$T/err")"
expect_rc 2 "$GEMRUN" check -m "$M" --schema "$T/nonexistent.json" "$T/s.log" </dev/null  # an unreadable schema file
grep -q "cannot open --schema" "$T/err" || fail "unreadable schema message: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "an error printed a verdict"
expect_rc 2 ask -p q "$T/missing.log" </dev/null
grep -q "no such file or directory: $T/missing.log" "$T/err" || fail "missing file message: $(cat "$T/err")"
printf '\x1f\x8b\x08\x00garbage-not-deflate' >"$T/bad.log.gz"
expect_rc 2 ask -p q "$T/bad.log.gz" </dev/null
grep -q "bad.log.gz: .*gzip" "$T/err" || fail "corrupt gz message: $(cat "$T/err")"
expect_rc 1 ask -p q --no-stdin </dev/null
grep -q "no input" "$T/err" || fail "no-input message: $(cat "$T/err")"

# 2. Whole input: plan on stderr, --json with checked citations.
expect_rc 0 ask -p "which request was slowest?" "$T/s.log" --json </dev/null
grep -q "1 input, 12 lines, .* tokens; context 1024 → whole" "$T/err" || fail "whole plan: $(cat "$T/err")"
/usr/bin/python3 - "$T/out" <<'PY' || fail "ask --json: $(cat "$T/out")"
import json, sys
j = json.loads(open(sys.argv[1]).read())
assert j["plan"]["strategy"] == "whole" and j["plan"]["lines"] == 12, j["plan"]
for c in j["citations"]:  # every citation reported is checked: valid ones exist, others are flagged
    if c["valid"]: assert 1 <= c["first"] <= c["last"] <= 12, c
    else: assert c["text"] + " [not in the input]" in j["answer"], c
PY

# 3. Map-reduce when it does not fit; retrieval says what it leaves out.
cat "$T/s.log" "$T/s.log" "$T/s.log" >"$T/m.log"  # 36 lines: over the context of 1024
expect_rc 0 ask -p "which request was slowest?" "$T/m.log" --json </dev/null
grep -q "→ map-reduce: [0-9]* chunks of ~[0-9]* tokens, [0-9]* synthesis round" "$T/err" || fail "map-reduce plan: $(cat "$T/err")"
/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["plan"]["strategy"]=="map-reduce" and j["plan"]["chunks"]>=2 and j["rounds"]>=1, j' "$T/out" || fail "map-reduce json"
for i in $(seq 1 40); do cat "$T/s.log"; done >"$T/big.log"
echo "Dec  2 11:00:00 web-01 kernel: Out of memory: Killed process 77 (java)" >>"$T/big.log"
expect_rc 0 ask -p "which process did the OOM killer kill?" --retrieve --top-chunks 1 "$T/big.log" </dev/null
grep -q "→ retrieve: .*the top 1 (.* tokens) sent; the other [0-9]* are not read" "$T/err" || fail "retrieve plan: $(cat "$T/err")"

# 4. A directory tree: .gitignore honoured, a binary file skipped with a note, .gz and HTML read.
mkdir -p "$T/tree/sub" "$T/tree/build"
printf 'build/\n*.tmp\n' >"$T/tree/.gitignore"
echo "ignored" >"$T/tree/build/x.log"; echo "ignored" >"$T/tree/a.tmp"
printf '\x00\x01\x02binary' >"$T/tree/sub/blob.bin"
echo "gz line" | gzip >"$T/tree/sub/c.log.gz"
printf '<html><body><script>x()</script><p>hello</p></body></html>\n' >"$T/tree/sub/d.html"
expect_rc 0 ask -p q "$T/tree" </dev/null
grep -q "skipped .*blob.bin: binary content" "$T/err" || fail "binary note: $(cat "$T/err")"
grep -q "gemrun ask: 3 inputs" "$T/err" || fail "tree inputs (.gitignore, c.log.gz, d.html): $(cat "$T/err")"

# 5. Piped stdin is an input named stdin.
set +e; ask -p q --json <"$T/s.log" >"$T/out" 2>"$T/err"; rc=$?; set -e
[ $rc -eq 0 ] && grep -q "1 input, 12 lines" "$T/err" || fail "stdin: exit $rc: $(cat "$T/err")"

# 6. check: a verdict under the schema; the gate decides the exit code.
expect_rc 1 check -p "ok?" --fail-if 'severity in [low, high]' "$T/s.log" </dev/null
/usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert set(v)=={"pass","severity"}, v' "$T/out" || fail "verdict: $(cat "$T/out")"
grep -q "gate FAILED" "$T/err" || fail "gate message: $(cat "$T/err")"
expect_rc 0 check -p "ok?" --fail-if 'severity not in [low, high] and pass != pass' "$T/s.log" </dev/null
cp "$T/s.log" "$T/t.log"
expect_rc 1 check -p "ok?" --ndjson --fail-if 'pass == true or pass == false' "$T/s.log" "$T/t.log" </dev/null
/usr/bin/python3 - "$T/out" "$T" <<'PY' || fail "ndjson: $(cat "$T/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
assert [r["input"] for r in rows] == [sys.argv[2] + "/s.log", sys.argv[2] + "/t.log"], rows
assert all(r["failed"] is True and set(r["verdict"]) == {"pass", "severity"} for r in rows), rows
PY
echo "ask/check e2e: ok"
