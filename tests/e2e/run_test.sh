#!/usr/bin/env bash
# e2e for `gemrun run`: golden greedy ids through --prompt-ids, piped stdin, errors, --help.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
M=$DATA/testdata/models
fail() { echo "FAIL: $*"; exit 1; }

# 1. Greedy ids equal the goldens up to the first unconfident step (quantized gap 1.0). Files
#    with tokenizer.ggml.suppress_tokens (g4u-*) are compared with greedy_with_suppress_tokens,
#    what llama.cpp's sampler picks; with the shared fixtures, the g4u files there too (the f32
#    one is confident through step 6 of p40, where suppression changes the output).
python3 - "$GEMRUN" "$DATA/testdata" "${3:-}/testdata" <<'PY'
import json, os, subprocess, sys
gemrun, root, shared = sys.argv[1], sys.argv[2], sys.argv[3]
bad = 0
def check(root, keep):
    global bad
    man = json.load(open(f"{root}/manifest.json"))
    for m in man["models"]:
        if not keep(m["name"]): continue
        gap = man["recommended_checks"]["classes"][m["check_class"]]["argmax_gap"]
        prompts = man["prompt_sets"][m["prompt_set"]]["prompts"]
        for pname, g in m["goldens"].items():
            want_ids = g.get("greedy_with_suppress_tokens", g["greedy"])
            gaps = g.get("greedy_with_suppress_tokens_top2_gap", g["greedy_top2_gap"])
            ids = ",".join(map(str, prompts[pname]))
            out = subprocess.run([gemrun, "run", "-m", f"{root}/{m['file']}", "--prompt-ids", ids, "-n", "16",
                                  "--temp", "0", "--json", "--kv-type", "f32", "-t", "2"],
                                 capture_output=True, text=True, timeout=300)
            if out.returncode != 0:
                print("FAIL", m["name"], pname, out.stderr); bad += 1; continue
            toks = json.loads(out.stdout)["tokens"]
            for k, (want, gp) in enumerate(zip(want_ids, gaps)):
                if gp <= gap: break
                if k >= len(toks) or toks[k] != want:
                    print("FAIL", m["name"], pname, "step", k, toks[:k + 1], "want", want_ids[:k + 1]); bad += 1; break
check(root, lambda n: True)
if os.path.exists(f"{shared}/manifest.json"):
    check(shared, lambda n: n.startswith("g4u-"))
print("greedy:", "ok" if not bad else f"{bad} failures")
sys.exit(1 if bad else 0)
PY

# 1b. Suppressed tokens (g4u-tiny: tokenizer.ggml.suppress_tokens = [2047, 1156]). After p40 and
#     the 6 ids both greedy runs share, the raw argmax is 1156 (gap 2.5) and the best unsuppressed
#     id 1249 (gap 1.6): the sampler skips 1156, --suppress-tokens off does not; the banner says so.
python3 - "$GEMRUN" "$DATA/testdata" <<'PY'
import json, subprocess, sys
gemrun, root = sys.argv[1], sys.argv[2]
man = json.load(open(f"{root}/manifest.json"))
m = next(x for x in man["models"] if x["name"] == "g4u-tiny-q4_0")
g = m["goldens"]["p40"]
ids = man["prompt_sets"][m["prompt_set"]]["prompts"]["p40"] + g["greedy_with_suppress_tokens"][:6]
def first(*extra):
    out = subprocess.run([gemrun, "run", "-m", f"{root}/{m['file']}", "--prompt-ids", ",".join(map(str, ids)),
                          "-n", "1", "--temp", "0", "--json", "-t", "2", *extra], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["tokens"][0], out.stderr
tok, err = first()
assert tok == g["greedy_with_suppress_tokens"][6] == 1249, (tok, err)
assert "never sampled: <audio|> (2047)" in err and "tokenizer.ggml.suppress_tokens" in err, err
assert "gemma4" in err and "(dense, 6 layers)" in err, err
assert first("--suppress-tokens", "file")[0] == 1249
tok, err = first("--suppress-tokens", "off")
assert tok == g["greedy"][6] == 1156, tok
assert "never sampled" not in err, err
# Sampling at a high temperature never returns a suppressed id either.
out = subprocess.run([gemrun, "run", "-m", f"{root}/{m['file']}", "--prompt-ids", ",".join(map(str, ids)),
                      "-n", "64", "--temp", "5", "--top-k", "0", "--top-p", "1", "--min-p", "0", "-s", "3",
                      "--json", "-t", "2"], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
assert not {1156, 2047} & set(json.loads(out.stdout)["tokens"]), out.stdout
print("suppress: ok")
PY
set +e
"$GEMRUN" run -m "$M/g4u-tiny-q4_0.gguf" --suppress-tokens bogus -p x --no-stdin >/dev/null 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad --suppress-tokens value: exit $rc, want 1"

# 2. Piped stdin is appended to the prompt as a document.
a=$("$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p "why" -n 2 --temp 0 --json --no-stdin </dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
b=$(printf 'Nov 24 12:00:01 host nginx[1]: bind() failed\n' | "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -p "why" -n 2 --temp 0 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["prompt_tokens"])')
[ "$b" -gt "$a" ] || fail "piped stdin not in the prompt ($a vs $b tokens)"

# 3. Streaming to a pipe prints text; timings go to stderr.
"$GEMRUN" run -m "$M/g4-tiny-q8_0.gguf" -p "hello" -n 5 --temp 0 --no-stdin 2>/tmp/gemrun_e2e_err.$$ | grep . >/dev/null || fail "no text on stdout"
grep -q "gen 5 tok" /tmp/gemrun_e2e_err.$$ || fail "no timings on stderr: $(cat /tmp/gemrun_e2e_err.$$)"
rm -f /tmp/gemrun_e2e_err.$$

# 4. A prompt longer than the context is an error with both numbers, exit code 1.
set +e
msg=$(head -c 20000 /dev/zero | tr '\0' 'a' | "$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" -c 64 -p x 2>&1 >/dev/null); rc=$?
set -e
[ $rc -eq 1 ] || fail "long prompt: exit $rc, want 1 ($msg)"
grep -q "context holds 64" <<<"$msg" || fail "long prompt message: $msg"

# 5. Usage errors and missing files.
set +e
"$GEMRUN" run -m "$M/g3-tiny-q4_0.gguf" --temp -1 -p x --no-stdin >/dev/null 2>&1; [ $? -eq 1 ] || fail "bad temperature should exit 1"
"$GEMRUN" run -m /nonexistent.gguf -p x --no-stdin >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing model should exit 2"
"$GEMRUN" run --help | grep "exit codes" >/dev/null || fail "--help lacks exit codes"
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
grep -q "not a PNG or JPEG" <<<"$msg" || fail "non-image message: $msg"
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
