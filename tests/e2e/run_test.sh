#!/usr/bin/env bash
# e2e for `gemrun run`: golden greedy ids through --prompt-ids, piped stdin, errors, --help.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
M=$DATA/testdata/models
fail() { echo "FAIL: $*"; exit 1; }

# 1. Greedy ids equal the goldens up to the first unconfident step (quantized gap 1.0).
python3 - "$GEMRUN" "$DATA/testdata" <<'PY'
import json, subprocess, sys
gemrun, root = sys.argv[1], sys.argv[2]
man = json.load(open(f"{root}/manifest.json"))
bad = 0
for m in man["models"]:
    gap = man["recommended_checks"]["classes"][m["check_class"]]["argmax_gap"]
    prompts = man["prompt_sets"][m["prompt_set"]]["prompts"]
    for pname, g in m["goldens"].items():
        ids = ",".join(map(str, prompts[pname]))
        out = subprocess.run([gemrun, "run", "-m", f"{root}/{m['file']}", "--prompt-ids", ids, "-n", "16",
                              "--temp", "0", "--json", "--kv-type", "f32", "-t", "2"],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            print("FAIL", m["name"], pname, out.stderr); bad += 1; continue
        toks = json.loads(out.stdout)["tokens"]
        for k, (want, gp) in enumerate(zip(g["greedy"], g["greedy_top2_gap"])):
            if gp <= gap: break
            if k >= len(toks) or toks[k] != want:
                print("FAIL", m["name"], pname, "step", k, toks[:k + 1], "want", g["greedy"][:k + 1]); bad += 1; break
print("greedy:", "ok" if not bad else f"{bad} failures")
sys.exit(1 if bad else 0)
PY

# 2. Piped stdin is appended to the prompt as a document.
a=$("$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p "why" -n 2 --temp 0 --json --no-stdin </dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
b=$(printf 'Nov 24 12:00:01 host nginx[1]: bind() failed\n' | "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p "why" -n 2 --temp 0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
[ "$b" -gt "$a" ] || fail "piped stdin not in the prompt ($a vs $b tokens)"

# 3. Streaming to a pipe prints text; timings go to stderr.
"$GEMRUN" run -m "$M/g4-tiny-q8_0.gguf" -p "hello" -n 5 --temp 0 --no-stdin 2>/tmp/gemrun_e2e_err.$$ | grep -q . || fail "no text on stdout"
grep -q "gen 5 tok" /tmp/gemrun_e2e_err.$$ || fail "no timings on stderr: $(cat /tmp/gemrun_e2e_err.$$)"
rm -f /tmp/gemrun_e2e_err.$$

# 4. A prompt longer than the context is an error with both numbers, exit code 1.
set +e
msg=$(head -c 20000 /dev/zero | tr '\0' 'a' | "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -c 64 -p x 2>&1 >/dev/null); rc=$?
set -e
[ $rc -eq 1 ] || fail "long prompt: exit $rc, want 1 ($msg)"
echo "$msg" | grep -q "context holds 64" || fail "long prompt message: $msg"

# 5. Usage errors and missing files.
set +e
"$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" --temp -1 -p x --no-stdin >/dev/null 2>&1; [ $? -eq 1 ] || fail "bad temperature should exit 1"
"$GEMRUN" run -m /nonexistent.gguf -p x --no-stdin >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing model should exit 2"
"$GEMRUN" run --help | grep -q "exit codes" || fail "--help lacks exit codes"
set -e
# 6. Images: --image with a projector; an image placeholder; a corrupt image is a clean error.
V=$DATA/vision
out=$("$GEMRUN" run -m "$V/models/g4v-f32.gguf" --mmproj "$V/models/g4v-mmproj-f16.gguf" --image "$V/images/grad-224x224.png" \
      -p "What is in <image> this picture?" -n 4 --temp 0 --json --no-stdin)
# 224 x 224 -> 336 x 336 canvas, 49 image tokens (llama.cpp 3f545becc budget 40..280).
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["usage"]["prompt_tokens"] > 49, d; assert len(d["tokens"]) == 4, d' \
  || fail "image prompt: $out"
# The Gemma 4 12B-like pair (encoder-free gemma4uv projector) from the shared set, when present.
SV=${3:-}/testdata/vision
if [ -f "$SV/models/g4u-f32.gguf" ]; then
  out=$("$GEMRUN" run -m "$SV/models/g4u-f32.gguf" --mmproj "$SV/models/g4u-mmproj-f16.gguf" --image "$V/images/tiny-5x3.png" \
        -p "What is in <image> this picture?" -n 4 --temp 0 --json --no-stdin --image-max-tokens 60)
  echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["usage"]["prompt_tokens"] > 45, d; assert len(d["tokens"]) == 4, d' \
    || fail "gemma4uv image prompt: $out"
fi
set +e
msg=$("$GEMRUN" run -m "$V/models/g4v-f32.gguf" --mmproj "$V/models/g4v-mmproj-f16.gguf" --image "$DATA/testdata/manifest.json" -p x --no-stdin 2>&1); rc=$?
set -e
[ $rc -eq 2 ] || fail "non-image file: exit $rc ($msg)"
echo "$msg" | grep -q "not a PNG or JPEG" || fail "non-image message: $msg"
# 7. The fused attention kernel (-fa on, llama.cpp's spelling) gives the same greedy text with the
# F32 cache; a bad value is a usage error.
greedy() { "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p "hello there" -n 12 --temp 0 --no-stdin --json --kv-type f32 "$@" 2>/dev/null |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["text"])'; }
[ "$(greedy -fa on)" = "$(greedy --flash-attn off)" ] || fail "-fa on changed the greedy text"
set +e
"$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p x --no-stdin -fa maybe >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "-fa maybe: exit $rc, want 1"
echo "run e2e: ok"
