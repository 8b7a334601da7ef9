#!/usr/bin/env bash
# e2e for audio input (gemma4ua): `gemrun run --audio` (prompt layout, placement, errors),
# `gemrun embed-audio` errors, and `gemrun serve` with input_audio parts: the server's greedy
# answer equals `gemrun run --audio`, every bad part is a 400 naming the field and the reason,
# and the server stays healthy. Bundled fixtures only: the Gemma 4 text model of tests/data/vision
# (n_embd 128) with a random audio projector of the same width (tests/data/audio).
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$(cd "$2" && pwd)
VM=$DATA/vision/models/g4v-f32.gguf
AP=$DATA/audio/g4ua-e128-f16.gguf
CLIP=$DATA/audio/short-0.3s-16k-mono-s16.wav
CLIP2=$DATA/audio/tone-44k1-stereo-s16.wav
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$WORK"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 15 "$l"; }; done; exit 1; }
ok() { echo "ok   $*"; }
run_json() { "$GEMRUN" run -m "$VM" --mmproj "$AP" --temp 0 -n 12 -t 2 --json --no-stdin "$@" 2>"$WORK/run.log"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# 1. run --audio: 8 rows for the 0.3 s clip; the clip and the text both count in the prompt.
base=$(run_json -p "Transcribe this." | field '["usage"]["prompt_tokens"]') || fail "run without audio"
"$GEMRUN" run -m "$VM" --temp 0 -n 12 -t 2 --json --no-stdin -p "Transcribe this." >"$WORK/noaudio.json" 2>/dev/null
n=$(run_json --audio "$CLIP" -p "Transcribe this." | tee "$WORK/a1.json" | field '["usage"]["prompt_tokens"]') ||
  fail "run --audio: $(cat "$WORK/run.log")"
# + 8 rows + <|audio> and <audio|> (tokenized as text pieces by this fixture's small vocabulary)
[ "$n" -gt $((base + 8)) ] || fail "run --audio: prompt_tokens $n, want more than $base + 8"
ok "run --audio: prompt $n tokens (text alone $base)"
python3 - "$WORK/a1.json" "$WORK/noaudio.json" <<'PY' || fail "the clip changes nothing"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["tokens"] != b["tokens"], (a["tokens"], b["tokens"])
PY
ok "run --audio: the answer depends on the clip"
# Two clips, the second placed by <audio> in the text; and the same clip given twice.
run_json --audio "$CLIP" --audio "$CLIP2" -p "Compare <audio> and this." >"$WORK/a2.json" || fail "run, 2 clips: $(cat "$WORK/run.log")"
n2=$(field '["usage"]["prompt_tokens"]' <"$WORK/a2.json")
[ "$n2" -ge $((n + 38)) ] || fail "two clips: prompt_tokens $n2"
ok "run --audio twice (8 + 38 rows): prompt $n2 tokens"
# Audio rows are causal, so a clip longer than a batch is fed in pieces: same answer.
run_json --audio "$CLIP" --audio "$CLIP2" -p "Compare <audio> and this." -b 5 >"$WORK/a3.json" || fail "run -b 5: $(cat "$WORK/run.log")"
[ "$(field '["tokens"]' <"$WORK/a3.json")" = "$(field '["tokens"]' <"$WORK/a2.json")" ] || fail "-b 5 changes the answer"
ok "run --audio with batches of 5: same answer"

# 2. Errors: exit 2 with the file named; a model without audio; a projector without audio.
expect_err() {  # expect_err WANT_EXIT WANT_TEXT CMD...
  local want=$1 text=$2; shift 2
  set +e; "$@" >/dev/null 2>"$WORK/err.txt"; local rc=$?; set -e
  [ "$rc" = "$want" ] || fail "$* exited $rc, want $want: $(cat "$WORK/err.txt")"
  grep -q -- "$text" "$WORK/err.txt" || fail "$*: message lacks '$text': $(cat "$WORK/err.txt")"
  echo "     $(tail -n1 "$WORK/err.txt")"
}
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00' >"$WORK/truncated.wav"
head -c 3000 /dev/urandom >"$WORK/noise.bin"
expect_err 2 "truncated.wav: not a readable audio file" "$GEMRUN" run -m "$VM" --mmproj "$AP" --audio "$WORK/truncated.wav" -p x --no-stdin
expect_err 2 "noise.bin: not a readable audio file" "$GEMRUN" embed-audio --mmproj "$AP" --audio "$WORK/noise.bin" -o "$WORK/o.bin"
expect_err 2 "cannot open audio file" "$GEMRUN" embed-audio --mmproj "$AP" --audio "$WORK/missing.wav" -o "$WORK/o.bin"
expect_err 2 "the text model is gemma3" "$GEMRUN" run -m "$DATA/testdata/models/g3-tiny-q4_0.gguf" --mmproj "$AP" \
  --audio "$CLIP" -p x --no-stdin
expect_err 2 "has no audio encoder" "$GEMRUN" run -m "$VM" --mmproj "$DATA/vision/models/g4v-mmproj-f16.gguf" \
  --audio "$CLIP" -p x --no-stdin
expect_err 1 "requires --mmproj" "$GEMRUN" run -m "$VM" --audio "$CLIP" -p x --no-stdin
"$GEMRUN" embed-audio --help | grep "gemrun embed-audio -m" >/dev/null || fail "embed-audio --help has no example"
ok "errors"

# chat: /audio attaches a clip to the next message; a bad clip is an error line, chat goes on.
printf '/audio %s\nTranscribe this.\n/audio %s\n/audio\nbye\n/exit\n' "$CLIP" "$WORK/noise.bin" |
  "$GEMRUN" chat -m "$VM" --mmproj "$AP" --temp 0 -n 4 -t 2 >"$WORK/chat.txt" 2>"$WORK/chat.log" || fail "chat exit status"
grep -q "(audio attached: 8 tokens" "$WORK/chat.txt" || fail "chat: no attach line: $(cat "$WORK/chat.txt")"
grep -q "error: .*noise.bin: not a readable audio file" "$WORK/chat.txt" || fail "chat: no error line: $(cat "$WORK/chat.txt")"
grep -q "usage: /audio PATH" "$WORK/chat.txt" || fail "chat: no usage line"
ok "chat /audio"

# 3. serve: input_audio parts.
start_server() {  # start_server LOG ARGS...: sets PORT, SERVER_PID
  local log=$1; shift
  "$GEMRUN" serve -m "$VM" --port 0 -t 2 "$@" 2>"$log" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); PORT=""
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited: $(cat "$log")"
    sleep 0.1
  done
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)" = 200 ] && return 0
    sleep 0.1
  done
  fail "server not healthy"
}
run_json --audio "$CLIP" -p "Transcribe this." | field '["text"]' >"$WORK/expect.txt"
start_server "$WORK/serve.log" --mmproj "$AP" --parallel 2 --ctx-size 1024 --max-body-bytes 4194304
grep -q 'audio: projector' "$WORK/serve.log" || fail "no audio line in the start-up log"
python3 - "http://127.0.0.1:$PORT" "$CLIP" "$WORK/expect.txt" <<'PY' || fail "input_audio requests"
import base64, io, json, struct, sys, urllib.request, urllib.error
base, clip, expect = sys.argv[1:4]
want = open(expect).read().rstrip("\n")
b64 = lambda b: base64.b64encode(b).decode()
wav = open(clip, "rb").read()
def post(body):
    req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def chat(parts):
    return post({"model": "m", "max_tokens": 12, "temperature": 0,
                 "messages": [{"role": "user", "content": parts}]})
audio = lambda data, fmt="wav": {"type": "input_audio", "input_audio": {"data": data, "format": fmt}}
st, b = chat([audio(b64(wav)), {"type": "text", "text": "Transcribe this."}])
assert st == 200, (st, b)
got = b["choices"][0]["message"]["content"]
assert got == want, (got, want)
print("ok   serve: input_audio answer equals gemrun run --audio")
def expect400(parts, param_end, words):
    st, b = chat(parts)
    e = b.get("error", {})
    assert st == 400, (st, b)
    assert (e.get("param") or "").endswith(param_end), e
    assert words in e["message"], e
    print("     400", e.get("param"), ":", e["message"][:150])
expect400([audio(b64(wav), "ogg")], ".input_audio.format", "supported: wav, mp3, flac")
expect400([audio("@@not base64@@")], ".input_audio.data", "")
expect400([audio(b64(b"RIFF\x24\x00\x00\x00WAVEfmt "))], ".input_audio.data", "not a readable audio file")
expect400([audio(b64(b"hello, this is not audio at all" * 10))], ".input_audio.data", "not a readable audio file")
expect400([{"type": "input_audio", "input_audio": {"format": "wav"}}], ".input_audio.data", "is required")
# 31 s of 8-bit silence-ish audio at 16 kHz: over the server's 30 s per clip.
n = 31 * 16000
long = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 16000, 1, 8) + \
       b"data" + struct.pack("<I", n) + bytes([128, 130]) * (n // 2)
expect400([audio(b64(long))], ".input_audio.data", "30 s per clip")
# This projector has no vision part: an image is refused, the server stays up.
png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
st, b = chat([{"type": "image_url", "image_url": {"url": "data:image/png;base64," + png}}])
assert st == 400, (st, b)
print("     400 image on an audio-only projector:", b["error"]["message"][:120])
st, b = chat([audio(b64(wav)), {"type": "text", "text": "Transcribe this."}])
assert st == 200 and b["choices"][0]["message"]["content"] == want, (st, b)
print("ok   serve: still healthy after the bad requests")
PY
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || fail "server exit status $?"

# 4. A server without an audio projector names the problem.
start_server "$WORK/plain.log" --ctx-size 512
python3 - "http://127.0.0.1:$PORT" "$CLIP" <<'PY' || fail "input_audio without a projector"
import base64, json, sys, urllib.request, urllib.error
base, clip = sys.argv[1:3]
body = {"model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": [
    {"type": "input_audio", "input_audio": {"data": base64.b64encode(open(clip, "rb").read()).decode(), "format": "wav"}}]}]}
req = urllib.request.Request(base + "/v1/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
try:
    urllib.request.urlopen(req, timeout=60); sys.exit("expected a 400")
except urllib.error.HTTPError as e:
    b = json.loads(e.read())
    assert e.code == 400 and "no audio projector" in b["error"]["message"], (e.code, b)
    print("     400", b["error"]["message"][:160])
PY
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || true
ok "serve without an audio projector"
echo "audio e2e: ok"
