#!/usr/bin/env bash
# `gemrun serve` start and stop: a port in use is a runtime error (exit 3) naming the address and
# the reason; Ctrl-C while the model loads exits at once with 130; SSE streams get ": ping"
# comments while queued (--sse-ping); the X-Request-Id header and the log line carry one id.
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR].
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
MODEL=$DATA/testdata/models/g3-tiny-q4_0.gguf
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 15 "$l"; }; done; exit 1; }
ok() { echo "ok   $*"; }

wait_port() {  # log pid -> PORT
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$1" | head -n1)
    [ -n "$PORT" ] && return 0
    kill -0 "$2" 2>/dev/null || fail "server exited: $(cat "$1")"
    sleep 0.1
  done
  fail "no port in $1"
}

# 1. A port in use: exit 3 (runtime), the message names the address and the reason.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' \
  >"$WORK/busy.port" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$WORK/busy.port" ] && break; sleep 0.1; done
BUSY=$(cat "$WORK/busy.port")
rc=0
"$GEMRUN" serve -m "$MODEL" --port "$BUSY" -t 1 2>"$WORK/bind.log" || rc=$?
[ "$rc" = 3 ] || fail "port in use: exit $rc, want 3"
grep -q "127.0.0.1:$BUSY" "$WORK/bind.log" && grep -qi "address already in use" "$WORK/bind.log" ||
  fail "port in use: message $(cat "$WORK/bind.log")"
ok "a port in use exits 3 naming 127.0.0.1:$BUSY and the reason"

# 2. Ctrl-C while the model loads (a FIFO as the model: the load blocks until killed).
mkfifo "$WORK/model.gguf"
"$GEMRUN" serve -m "$WORK/model.gguf" --port 0 -t 1 2>"$WORK/load.log" &
LPID=$!
PIDS+=("$LPID")
wait_port "$WORK/load.log" "$LPID"
kill -INT "$LPID"
rc=0
for _ in $(seq 1 50); do kill -0 "$LPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LPID" 2>/dev/null && fail "SIGINT during load: still running after 5 s"
wait "$LPID" || rc=$?
[ "$rc" = 130 ] || fail "SIGINT during load: exit $rc, want 130"
ok "Ctrl-C while loading exits 130 at once"

# 3. SSE pings while queued, and one request id in the header and the log.
"$GEMRUN" serve -m "$MODEL" --port 0 -t 1 --parallel 1 --ctx-size 4096 --sse-ping 0.05 2>"$WORK/serve.log" &
SPID=$!
PIDS+=("$SPID")
wait_port "$WORK/serve.log" "$SPID"
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT
# A long generation takes the one slot; the stream behind it waits in the queue.
# (logit_bias keeps the fixture's end tokens <eos> = 1, <end_of_turn> = 9 from ending it early.)
curl -s "$BASE/v1/completions" -d '{"model": "m", "prompt": "x", "max_tokens": 4000, "temperature": 1, "seed": 1,
  "logit_bias": {"1": -100, "9": -100}}' >/dev/null &
PIDS+=($!)
sleep 0.05
curl -sN "$BASE/v1/chat/completions" \
  -d '{"model": "m", "max_tokens": 2, "stream": true, "messages": [{"role": "user", "content": "hi"}]}' >"$WORK/sse.txt"
grep -q '^: ping$' "$WORK/sse.txt" || fail "no ': ping' while queued: $(head -c 300 "$WORK/sse.txt")"
grep -q '^data: \[DONE\]$' "$WORK/sse.txt" || fail "the stream did not end"
ok "queued SSE stream gets ': ping' comments"
curl -s -D "$WORK/h.txt" -o /dev/null "$BASE/v1/chat/completions" \
  -d '{"model": "m", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}'
ID=$(sed -n 's/^X-Request-Id: \(req-[0-9]*\).*/\1/p' "$WORK/h.txt" | tr -d '\r')
[ -n "$ID" ] || fail "no X-Request-Id: $(cat "$WORK/h.txt")"
for _ in $(seq 1 20); do grep -q "gemrun serve: $ID POST /v1/chat/completions 200" "$WORK/serve.log" && break; sleep 0.1; done
grep -q "gemrun serve: $ID POST /v1/chat/completions 200" "$WORK/serve.log" || fail "log line without $ID"
ok "X-Request-Id $ID is the id of the log line"
kill -TERM "$SPID"
wait "$SPID" || fail "exit $? after SIGTERM"
ok "clean shutdown"
echo "server lifecycle e2e: all passed"
