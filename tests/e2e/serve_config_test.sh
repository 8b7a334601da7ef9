#!/usr/bin/env bash
# `gemrun serve --config FILE`: an unknown key and a bad value are usage errors (exit 1) naming
# the file and line; command-line flags override the file; `--config none` reads no file.
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR].
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
MODEL=$DATA/testdata/models/g3-tiny-q4_0.gguf
WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 15 "$l"; }; done; exit 1; }

# 1. Unknown key: exit 1, file:line and the key.
printf 'model = "%s"\n# a comment\nprot = 8080\n' "$MODEL" > "$WORK/bad-key.toml"
rc=0; "$GEMRUN" serve --config "$WORK/bad-key.toml" 2>"$WORK/key.log" || rc=$?
[ "$rc" = 1 ] || fail "unknown key: exit $rc, want 1"
grep -qF "bad-key.toml:3: unknown key 'prot'" "$WORK/key.log" || fail "unknown key message: $(cat "$WORK/key.log")"

# 2. A value CLI11 rejects: exit 1, the option and where the file set it.
printf 'model = "%s"\nport = 70000\n' "$MODEL" > "$WORK/bad-port.toml"
rc=0; "$GEMRUN" serve --config "$WORK/bad-port.toml" 2>"$WORK/port.log" || rc=$?
[ "$rc" = 1 ] || fail "bad value: exit $rc, want 1"
grep -q -- "--port.*set in .*bad-port.toml:2" "$WORK/port.log" || fail "bad value message: $(cat "$WORK/port.log")"

# 3. A switch with a non-boolean value.
printf 'log_prompts = 1\n' > "$WORK/bad-flag.toml"
rc=0; "$GEMRUN" serve -m "$MODEL" --config "$WORK/bad-flag.toml" 2>"$WORK/flag.log" || rc=$?
[ "$rc" = 1 ] && grep -qF "bad-flag.toml:1: log_prompts is a switch" "$WORK/flag.log" || fail "flag: $(cat "$WORK/flag.log")"

# 4. The file supplies the model and options; the command line's --port wins over the file's.
printf 'model = "%s"\nport = 1\nthreads = 1\nctx_size = 256\nalias = "from-file"\n' "$MODEL" > "$WORK/good.toml"
"$GEMRUN" serve --config "$WORK/good.toml" --port 0 >"$WORK/serve.log" 2>&1 &
PID=$!
PORT=
for _ in $(seq 1 200); do
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -n1)
  [ -n "$PORT" ] && grep -q "ready" "$WORK/serve.log" && break
  kill -0 "$PID" 2>/dev/null || fail "server exited"
  sleep 0.1
done
[ -n "$PORT" ] && [ "$PORT" != 1 ] || fail "the command line's --port 0 did not override port = 1"
grep -q "ready: model from-file, [0-9]* slots x 256 positions" "$WORK/serve.log" || fail "file options not applied"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

# 5. --config none: no file is read (the model must then come from the command line).
rc=0; "$GEMRUN" serve --config none 2>"$WORK/none.log" || rc=$?
[ "$rc" = 1 ] && grep -q -- "--model is required" "$WORK/none.log" || fail "--config none: $(cat "$WORK/none.log")"
echo "serve config e2e: ok"
