#!/usr/bin/env bash
# e2e for `gemrun serve` on loopback: the official openai npm client (chat, completions,
# streaming, usage, stop, logprobs, errors), Ollama endpoints via curl, the abuse suite, a load
# test (64 clients x 4 requests, RSS before/after), backpressure (429), clean shutdown, and
# images (--mmproj on the bundled Gemma 4 vision fixture): the server's greedy answers equal
# `gemrun run --image`, corrupt images are 400s and the server stays healthy.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR. Needs node + npm (the openai package is installed here;
# no network means a loud failure, not a skip).
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
JS=$HERE/server
MODEL=$DATA/testdata/models/g3-tiny-q4_0.gguf
KEY=e2e-secret-key
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.log; do echo "--- $l"; tail -n 15 "$l"; done; exit 1; }
ok() { echo "ok   $*"; }

command -v node >/dev/null || fail "node is required for the server e2e test"
command -v npm >/dev/null || fail "npm is required for the server e2e test"
if [ ! -d "$JS/node_modules/openai" ]; then
  (cd "$JS" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
    fail "npm ci in $JS failed (is the npm registry reachable?); the server e2e test needs the openai package"
fi

# Starts a server; sets PORT and SERVER_PID. Extra args are passed on.
start_server() {
  local log=$1
  shift
  "$GEMRUN" serve -m "${SERVER_MODEL:-$MODEL}" --port 0 -t 2 "$@" 2>"$log" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited: $(cat "$log")"
    sleep 0.1
  done
  [ -n "$PORT" ] || fail "server did not print its port"
  for _ in $(seq 1 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)
    [ "$code" = 200 ] && return 0
    [ "$code" = 503 ] || [ "$code" = 000 ] || fail "/health answered $code while loading"
    sleep 0.1
  done
  fail "server not healthy after 60 s"
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_server "$WORK/server.log" --parallel 8 --ctx-size 256 --api-key "$KEY" --max-queue 128 \
  --max-body-bytes 1048576 --read-timeout 2 --timeout 120
BASE=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer $KEY")
ok "server up on $BASE"

# 1. The openai client.
node "$JS/client_test.mjs" "$BASE" "$KEY" || fail "openai client tests"

# 2. Ollama endpoints via curl.
curl -sf "${AUTH[@]}" "$BASE/api/version" | python3 -c 'import json,sys; assert json.load(sys.stdin)["version"]' ||
  fail "/api/version"
curl -sf "${AUTH[@]}" "$BASE/api/tags" | python3 -c '
import json, sys
m = json.load(sys.stdin)["models"]
assert len(m) == 1 and m[0]["name"] and m[0]["details"]["format"] == "gguf" and m[0]["size"] > 0, m' || fail "/api/tags"
curl -sf "${AUTH[@]}" "$BASE/api/show" -d '{"model": "g3-tiny-q4_0"}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["details"]["family"] == "gemma3" and s["model_info"]["general.architecture"] == "gemma3", s' || fail "/api/show"
curl -sfN "${AUTH[@]}" "$BASE/api/chat" \
  -d '{"model": "x", "messages": [{"role": "user", "content": "hi"}], "options": {"num_predict": 6, "temperature": 0}}' \
  >"$WORK/chat.ndjson" || fail "/api/chat stream"
python3 - "$WORK/chat.ndjson" <<'PY' || fail "/api/chat NDJSON"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert lines and all(not l["done"] for l in lines[:-1]) and lines[-1]["done"], lines
assert lines[-1]["done_reason"] in ("stop", "length") and lines[-1]["eval_count"] <= 6, lines[-1]
assert lines[-1]["prompt_eval_count"] > 0 and lines[-1]["eval_duration"] >= 0
assert all(l["message"]["role"] == "assistant" for l in lines)
PY
curl -sf "${AUTH[@]}" "$BASE/api/generate" \
  -d '{"model": "x", "prompt": "Why is the sky blue?", "stream": false, "options": {"num_predict": 5, "temperature": 0}}' |
  python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["done"] and isinstance(r["response"], str) and r["eval_count"] <= 5 and r["prompt_eval_count"] > 0, r' ||
  fail "/api/generate"
code=$(curl -s -o "$WORK/err.json" -w '%{http_code}' "${AUTH[@]}" "$BASE/api/generate" \
  -d '{"model": "x", "prompt": "x", "options": {"mirostat": 2}}')
[ "$code" = 400 ] && grep -q 'options.mirostat' "$WORK/err.json" || fail "ollama unsupported option: $code $(cat "$WORK/err.json")"
ok "ollama endpoints"

# 3. Abuse suite.
python3 "$JS/abuse.py" "$PORT" "$KEY" 2 || fail "abuse suite"

# 4. Load: one warm-up round (threads, arenas), then 64 clients x 4 requests; RSS within 10%.
node "$JS/load_test.mjs" load "$BASE" "$KEY" 64 1 8 >/dev/null || fail "load warm-up"
rss_before=$(rss_kb "$SERVER_PID")
node "$JS/load_test.mjs" load "$BASE" "$KEY" 64 4 8 | tee "$WORK/load.json" || fail "load test"
rss_after=$(rss_kb "$SERVER_PID")
# AddressSanitizer keeps freed memory in quarantine, so RSS is only checked on normal builds.
# (No `ldd | grep -q` here: under pipefail, grep quitting early can fail ldd with SIGPIPE and
# hide the sanitizer. The ASan runtime's entry point is in the binary, statically or not.)
sanitized=0
if grep -qa '__asan_init' "$GEMRUN"; then sanitized=1; fi
python3 - "$WORK/load.json" "$rss_before" "$rss_after" "$sanitized" <<'PY' || fail "load test numbers"
import json, sys
r = json.load(open(sys.argv[1]))
before, after, sanitized = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
print(f"load: {r['ok']}/{r['requests']} ok, {r['complete_streams']} complete streams, {r['tokens']} tokens in "
      f"{r['seconds']} s; RSS {before} kB -> {after} kB ({100.0 * (after - before) / before:+.1f}%)")
assert r["failed"] == 0 and r["ok"] == 256 and r["complete_streams"] == 128, r
if sanitized:
    print("RSS check skipped: sanitizer build")
else:
    assert abs(after - before) <= 0.10 * before, (before, after)
PY
curl -sf "$BASE/health" >/dev/null || fail "/health after load"
curl -sf "${AUTH[@]}" "$BASE/metrics" >"$WORK/metrics.txt" || fail "/metrics"
grep -q '^gemrun_slots_busy 0$' "$WORK/metrics.txt" || fail "slots still busy after the load test"
grep -q 'gemrun_requests_total{endpoint="/v1/chat/completions",status="200"}' "$WORK/metrics.txt" || fail "request counter"
grep -q '^gemrun_time_to_first_token_seconds_count [1-9]' "$WORK/metrics.txt" || fail "TTFT histogram"
echo "--- /metrics after the load test"
grep -v '^#' "$WORK/metrics.txt" | grep -v '_bucket' || true
grep -q 'prompt=' "$WORK/server.log" || fail "no request log lines"
if grep -q 'Tell me a story' "$WORK/server.log"; then fail "a prompt reached the log without --log-prompts"; fi

# 5. Clean shutdown on SIGTERM.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "server exit status $? after SIGTERM"
if grep -q 'Sanitizer' "$WORK/server.log"; then fail "sanitizer report in the server log"; fi
ok "clean shutdown"

# 6. Backpressure: one slot, one queue place; a burst gets 429 with Retry-After, nothing else fails.
start_server "$WORK/small.log" --parallel 1 --max-queue 1 --ctx-size 128
python3 - "$PORT" <<'PY' || fail "backpressure"
import concurrent.futures, json, sys, urllib.request, urllib.error
port = int(sys.argv[1])
def call(i):
    body = json.dumps({"model": "m", "prompt": f"req {i}", "max_tokens": 40}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")
with concurrent.futures.ThreadPoolExecutor(8) as ex:
    res = list(ex.map(call, range(8)))
codes = [c for c, _ in res]
print("backpressure statuses:", codes)
assert set(codes) <= {200, 429} and codes.count(429) >= 1 and codes.count(200) >= 2, codes
assert all(ra for c, ra in res if c == 429), res
PY
ok "backpressure"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "server exit status $? after SIGTERM"

# 7. Images: the Gemma 4 vision fixture (text model + projector) with --mmproj.
V=$DATA/vision
VM=$V/models/g4v-f32.gguf VP=$V/models/g4v-mmproj-f16.gguf
IMG=$V/images/checker-640x360.png IMG2=$V/images/grad-224x224.png
PROMPT="Describe this image."
run_json() { "$GEMRUN" run -m "$VM" --mmproj "$VP" --temp 0 -n 16 -t 2 --json --no-stdin "$@" 2>/dev/null; }
run_json --image "$IMG" -p "$PROMPT" | python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])' \
  >"$WORK/expect1.txt" || fail "gemrun run --image"
run_json --image "$IMG" --image "$IMG2" -p "Compare <image> with <image>." |
  python3 -c 'import json,sys; sys.stdout.write(json.load(sys.stdin)["text"])' >"$WORK/expect2.txt" || fail "gemrun run, 2 images"
SERVER_MODEL=$VM start_server "$WORK/vision.log" --mmproj "$VP" --parallel 2 --ctx-size 1024 --api-key "$KEY" \
  --allow-image-files "$V/images" --allow-image-urls --allow-private-urls  # the test's image server is on loopback
BASE=http://127.0.0.1:$PORT
grep -q 'images: projector' "$WORK/vision.log" || fail "no projector line in the start-up log"
node "$JS/client_test.mjs" "$BASE" "$KEY" --vision "$IMG" "$WORK/expect1.txt" "$PROMPT" || fail "openai client image tests"
python3 - "$BASE" "$KEY" "$IMG" "$IMG2" "$WORK/expect1.txt" "$WORK/expect2.txt" <<'PY' || fail "image requests"
import base64, json, sys, urllib.request, urllib.error
base, key, img, img2, e1, e2 = sys.argv[1:7]
want1, want2 = open(e1).read(), open(e2).read()
b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json", "Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
opts = {"num_predict": 16, "temperature": 0, "repeat_penalty": 1.0}  # Ollama defaults to 1.1
# Ollama chat and generate: images come before the text, as `gemrun run --image` puts them.
st, b = post("/api/chat", {"model": "m", "stream": False, "options": opts,
                           "messages": [{"role": "user", "content": "Describe this image.", "images": [b64(img)]}]})
assert st == 200 and json.loads(b)["message"]["content"] == want1, (st, b[:300])
st, b = post("/api/generate", {"model": "m", "stream": False, "options": opts, "prompt": "Describe this image.", "images": [b64(img)]})
assert st == 200 and json.loads(b)["response"] == want1, (st, b[:300])
st, b = post("/api/chat", {"model": "m", "options": opts, "messages": [{"role": "user", "content": "Describe this image.", "images": [b64(img)]}]})
lines = [json.loads(l) for l in b.splitlines() if l.strip()]
assert st == 200 and "".join(l["message"]["content"] for l in lines) == want1 and lines[-1]["done"], (st, b[:300])
# Two images placed between text parts, one of them a local file: same as "<image>" markers in run.
parts = [{"type": "text", "text": "Compare "}, {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(img)}},
         {"type": "text", "text": " with "}, {"type": "image_url", "image_url": {"url": "file://" + img2}}, {"type": "text", "text": "."}]
st, b = post("/v1/chat/completions", {"model": "m", "max_tokens": 16, "temperature": 0, "messages": [{"role": "user", "content": parts}]})
assert st == 200 and json.loads(b)["choices"][0]["message"]["content"] == want2, (st, b[:300])
# The answer depends on the image: the other picture alone gives another text.
st, b = post("/v1/chat/completions", {"model": "m", "max_tokens": 16, "temperature": 0, "messages": [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(img2)}}, {"type": "text", "text": "Describe this image."}]}]})
assert st == 200 and json.loads(b)["choices"][0]["message"]["content"] != want1, (st, b[:300])
# A prompt over the context (image rows included) states count and limit: 8 images of 104 rows
# (640 x 360 -> 624 x 384 under the 40..280 budget) and some text exceed the 1024 positions.
st, b = post("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": [
    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + b64(img)}}] * 8 + [
    {"type": "text", "text": " ".join(f"word{i} count{i % 7}" for i in range(120))}]}]})
e = json.loads(b)["error"]
assert st == 400 and e["code"] == "context_length_exceeded" and "context holds 1024" in e["message"], (st, b[:300])
st, b = post("/api/show", {"model": "m"})
assert "vision" in json.loads(b)["capabilities"], b
print("image requests: ok")
PY
python3 "$JS/abuse.py" "$PORT" "$KEY" 10 --images "$IMG" || fail "image abuse suite"
curl -sf "$BASE/health" >/dev/null || fail "/health after the image tests"
curl -sf "${AUTH[@]}" "$BASE/metrics" | grep '^gemrun_images_total [1-9]' >/dev/null || fail "gemrun_images_total"
grep -q 'images=1 image_ms=' "$WORK/vision.log" || fail "no images= in the request log"
grep -q 'detail="the server answered HTTP 404"' "$WORK/vision.log" || fail "the log lacks why an image URL failed"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "vision server exit status $? after SIGTERM"
if grep -q 'Sanitizer' "$WORK/vision.log"; then fail "sanitizer report in the vision server log"; fi
ok "images"
echo "server e2e: all passed"
