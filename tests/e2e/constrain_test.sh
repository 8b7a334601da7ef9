#!/usr/bin/env bash
# e2e for constrained `gemrun run` (check_structured.py's CLI contract, small): a refused schema
# exits 1 naming the keyword and pointer; answers satisfy --regex / --schema / --grammar; an
# answer cut by -n exits 3 saying so. Tiny random models (tests/data), no ../shared needed.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for M in "$DATA/testdata/models/g3-tiny-q8_0.gguf" "$DATA/testdata/models/g4-tiny-q8_0.gguf"; do
  run() { "$GEMRUN" run -m "$M" --temp 1 --seed 3 -t 2 --json -p "answer" "$@" </dev/null; }
  # 1. Refused before generation: exit 1, keyword and pointer named.
  echo '{"type":"object","properties":{"a":{"type":"array","uniqueItems":true}}}' >"$T/bad.json"
  set +e; run --schema "$T/bad.json" -n 8 >"$T/out" 2>"$T/err"; rc=$?; set -e
  [ $rc -eq 1 ] || fail "refused schema: exit $rc, want 1"
  grep -q "uniqueItems" "$T/err" && grep -q "/properties/a/uniqueItems" "$T/err" || fail "keyword/pointer not named: $(cat "$T/err")"
  # 2. A regex answer matches the whole pattern.
  run --regex 'INC-[0-9]{6}' -n 24 >"$T/out" 2>"$T/err" || fail "regex run: $(cat "$T/err")"
  python3 -c 'import json,re,sys; t=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["text"]; sys.exit(0 if re.fullmatch(r"INC-[0-9]{6}", t) else 1)' "$T/out" || fail "regex answer: $(cat "$T/out")"
  # 3. A schema answer is JSON with the declared shape.
  echo '{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":1,"maximum":9}},"required":["ok","n"],"additionalProperties":false}' >"$T/s.json"
  run --schema "$T/s.json" -n 48 >"$T/out" 2>"$T/err" || fail "schema run: $(cat "$T/err")"
  python3 -c 'import json,sys; a=json.loads(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["text"]); sys.exit(0 if set(a)=={"ok","n"} and isinstance(a["ok"],bool) and 1<=a["n"]<=9 else 1)' "$T/out" || fail "schema answer: $(cat "$T/out")"
  # 4. Cut by the token limit: exit 3, the limit named, no record on stdout.
  set +e; run --schema "$T/s.json" -n 2 >"$T/out" 2>"$T/err"; rc=$?; set -e
  [ $rc -eq 3 ] || fail "truncated: exit $rc, want 3"
  grep -qi "token limit" "$T/err" || fail "truncation not named: $(cat "$T/err")"
  [ ! -s "$T/out" ] || fail "a truncated answer was printed as a result"
  # 5. GBNF: undefined rule refused by name; a grammar answer is accepted.
  printf 'root ::= "restart " unit-name\n' >"$T/g.gbnf"
  set +e; run --grammar "$T/g.gbnf" -n 8 >/dev/null 2>"$T/err"; rc=$?; set -e
  [ $rc -eq 1 ] && grep -q "unit-name" "$T/err" || fail "undefined rule: exit $rc: $(cat "$T/err")"
  printf 'root ::= ("YES" | "NO") ": " [a-z]{1,8}\n' >"$T/g.gbnf"
  run --grammar "$T/g.gbnf" -n 16 >"$T/out" 2>"$T/err" || fail "grammar run: $(cat "$T/err")"
  python3 -c 'import json,re,sys; t=json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["text"]; sys.exit(0 if re.fullmatch(r"(YES|NO): [a-z]{1,8}", t) else 1)' "$T/out" || fail "grammar answer: $(cat "$T/out")"
done
echo "constrain e2e: ok"
