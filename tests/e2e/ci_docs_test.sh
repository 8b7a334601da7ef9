#!/usr/bin/env bash
# Runs the commands shown in docs/ci.md (the `gemrun` / `git` / `printf` lines of its ```sh blocks,
# not the CI YAML) with a tiny random model: each must give exit 0 or 1 with a verdict on stdout.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
DOC="$(cd "$(dirname "$0")/../.." && pwd)/docs/ci.md"
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MODEL="$DATA/testdata/models/g3-tiny-q8_0.gguf"
# A small context and few threads keep the tiny model fast; the commands are as written.
gemrun() { "$GEMRUN" "$@" -t 2 -c 4096 --answer-tokens 1400 --note-tokens 64; }
cd "$T"
git init -q repo && cd repo
git -c user.email=t@t -c user.name=t commit -q --allow-empty -m base
printf 'password = "hunter2"\nprint("debug")\n' > app.py
git add app.py && git -c user.email=t@t -c user.name=t commit -q -m change
cmds=$(awk '/^```sh$/{on=1; next} /^```$/{on=0} on && /^(gemrun|git|printf) /' "$DOC")
[ "$(grep -c 'gemrun check' <<<"$cmds")" -ge 2 ] || fail "docs/ci.md shows fewer than 2 gemrun check commands"
n=0
while IFS= read -r cmd; do
  set +e; eval "$cmd" >"$T/out" 2>"$T/err"; rc=$?; set -e
  case "$cmd" in gemrun*|*"| gemrun"*) ;; *) [ $rc -eq 0 ] || fail "'$cmd' exited $rc"; continue ;; esac
  n=$((n + 1))
  [ $rc -eq 0 ] || [ $rc -eq 1 ] || fail "'$cmd' exited $rc: $(cat "$T/err")"
  grep -q "gemrun check: .*tokens; context 4096" "$T/err" || fail "no plan on stderr: $(cat "$T/err")"
  /usr/bin/python3 - "$T/out" "$rc" <<'PY' || fail "'$cmd': verdict: $(cat "$T/out")"
import json, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
assert lines, "no verdict"
failed = False
for l in lines:
    v = json.loads(l)
    if "verdict" in v: failed |= v["failed"]; v = v["verdict"]
    else: failed |= (v["severity"] in ("high", "critical"))
    assert set(v) == {"pass", "severity", "reasons"}, v
assert (int(sys.argv[2]) == 1) == failed, ("exit code does not match the verdict", sys.argv[2], lines)
PY
done <<<"$cmds"
[ $n -ge 2 ] || fail "ran $n gemrun commands"
echo "ci docs e2e: ok ($n commands)"
