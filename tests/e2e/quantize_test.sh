#!/usr/bin/env bash
# e2e for `gemrun quantize`: byte identity with llama-quantize (llama.cpp 3f545becc) and the
# CLI's errors. The inputs are regenerated with shared/tools/mkgguf.py (seeded, so the same
# bytes every time; their SHA-256 is checked first so that a changed generator is reported as
# such). tests/data/quantize/golden.sha256 holds the SHA-256 of llama-quantize's output for
# each fixture and type (made by tools/quantize_golden.sh where llama.cpp is built).
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR]
set -euo pipefail
GEMRUN=$1 DATA=$2 SHARED=${3:-}
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# expect RC NEEDLE CMD...: runs CMD, checks its exit code and that its output contains NEEDLE.
expect() {
  local want=$1 needle=$2; shift 2
  local rc=0; "$@" > "$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out"; fail "$* exited $rc, want $want"; }
  grep -qF -- "$needle" "$T/out" || { cat "$T/out"; fail "$*: output lacks '$needle'"; }
}
GOLDEN=$DATA/quantize/golden.sha256
MKGGUF=$SHARED/tools/mkgguf.py

# 1. Byte identity with llama-quantize, for every (fixture, type) in the golden list.
if [ -f "$MKGGUF" ]; then
  n=0
  while read -r want name; do
    case $name in
      fixture:*)  # fixture:PRESET-DTYPE.gguf: the input itself
        f=${name#fixture:}; preset=${f%-*}; dtype=${f##*-}; dtype=${dtype%.gguf}
        $PY "$MKGGUF" --preset "$preset" --dtype "$dtype" --out "$T/$f" --quiet
        [ "$(sha "$T/$f")" = "$want" ] || fail "mkgguf.py no longer makes the fixture $f the goldens were made from"
        ;;
      *)  # PRESET-DTYPE.TYPE.gguf
        in=${name%%.*}.gguf type=${name#*.}; type=${type%.gguf}
        "$GEMRUN" quantize -q "$T/$in" "$T/$name" "$type" --threads 2 > "$T/log" 2>&1 || { cat "$T/log"; fail "quantize $in $type"; }
        got=$(sha "$T/$name")
        [ "$got" = "$want" ] || fail "$name differs from llama-quantize's ($got, want $want)"
        rm -f "$T/$name"; n=$((n + 1))
        ;;
    esac
  done < "$GOLDEN"
  echo "byte-identical to llama-quantize: $n outputs"
  # The thread count does not change the bytes.
  f=tiny-g4-f32.gguf
  "$GEMRUN" quantize -q "$T/$f" "$T/a.gguf" Q4_K_M -t 1
  "$GEMRUN" quantize -q "$T/$f" "$T/b.gguf" Q4_K_M -t 3
  cmp "$T/a.gguf" "$T/b.gguf" || fail "output depends on the thread count"
  IN=$T/$f
  # llama-quantize's options: the same bytes as llama-quantize with the same flags.
  same() {  # same WANT_SHA IN OUT TYPE [flags...]
    local want=$1 in=$2 out=$3; shift 3
    "$GEMRUN" quantize -q "$in" "$out" "$@" > "$T/log" 2>&1 || { cat "$T/log"; fail "quantize $*"; }
    [ "$(sha "$out")" = "$want" ] || fail "quantize $* differs from llama-quantize's"
    rm -f "$out"
  }
  $PY "$MKGGUF" --preset tiny-g3 --dtype f32 --untied --out "$T/untied.gguf" --quiet
  [ "$(sha "$T/untied.gguf")" = d63ce02b29b1122c549909a729ef7ed3304c760db4a1e9d1f31210ede66275cd ] || fail "mkgguf.py --untied changed"
  same 314e08c9858e6875717a646742621fbe9f2435f8d0797718c0b428d5f38e58a1 "$IN" "$T/o.gguf" Q4_K_M --pure
  same a8484cc5f87eed34206487156899a2b9dcbc31e9bb89fae04f9cedfb1227e0b0 "$T/untied.gguf" "$T/o.gguf" Q6_K
  same 89967e1946b9140d72d9598ed0090256f357f30499d3ee39d0c71598a93b8ad4 "$T/untied.gguf" "$T/o.gguf" Q4_K_M --leave-output-tensor
  same 2a724da3ecdc7c4ef2d6dfa15f4b2d0e023f449f0cd59437dc487ed4a390cfff "$DATA/testdata/models/g3-tiny-q8_0.gguf" "$T/o.gguf" Q4_K_M --allow-requantize
  if [ -f "$T/tiny-g3-f32.gguf" ]; then
    same 30b0aec8323e6523cd5724f1f3db6742e2b3810fdd3199dd2a99e073690df6fb "$T/tiny-g3-f32.gguf" "$T/o.gguf" Q4_0 --token-embedding-type f16
  fi
  # llama-quantize aborts on a user type the row length does not fit; we refuse.
  expect 1 "not a multiple of 256" "$GEMRUN" quantize "$IN" "$T/o.gguf" Q5_K_M --token-embedding-type q4_k
else
  echo "no $MKGGUF: byte-identity checks skipped, CLI checks on a bundled model"
  IN=""
fi

# 2. Errors. A bundled quantized model stands in where no F32 input is needed.
Q8=$DATA/testdata/models/g3-tiny-q8_0.gguf
expect 1 "unknown quantization type 'Q9_9'" "$GEMRUN" quantize "$Q8" "$T/x.gguf" Q9_9
expect 1 "--allow-requantize" "$GEMRUN" quantize "$Q8" "$T/x.gguf" Q4_0
[ ! -e "$T/x.gguf" ] && [ ! -e "$T/x.gguf.partial" ] || fail "a refused quantize left a file"
expect 0 "quantized" "$GEMRUN" quantize "$Q8" "$T/x.gguf" Q4_0 --allow-requantize
"$GEMRUN" inspect "$T/x.gguf" > "$T/inspect" && grep -q "), Q4_0," "$T/inspect" || fail "requantized file is not Q4_0"
expect 0 "quantized 0 of" "$GEMRUN" quantize "$Q8" "$T/copy.gguf" Q8_0  # same type: a copy
expect 2 "" "$GEMRUN" quantize "$T/missing.gguf" "$T/y.gguf" Q4_0
expect 1 "cannot create output file" "$GEMRUN" quantize "$Q8" "$T/no/such/dir/y.gguf" Q8_0
expect 1 "is the input file" "$GEMRUN" quantize "$Q8" "$Q8" Q8_0
expect 1 "unknown tensor type" "$GEMRUN" quantize "$Q8" "$T/y.gguf" Q8_0 --output-tensor-type Q7
# Disk full: the partial file is a link to /dev/full, where every write fails with ENOSPC.
if [ -w /dev/full ]; then
  ln -s /dev/full "$T/full.gguf.partial"
  expect 3 "disk full" "$GEMRUN" quantize "$Q8" "$T/full.gguf" Q4_0 --allow-requantize
  [ ! -e "$T/full.gguf" ] && [ ! -L "$T/full.gguf.partial" ] || fail "disk full left a file behind"
fi
expect 0 "examples:" "$GEMRUN" quantize --help
echo "quantize e2e: ok"
