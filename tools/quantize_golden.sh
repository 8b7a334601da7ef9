#!/usr/bin/env bash
# Regenerates tests/data/quantize/golden.sha256: the SHA-256 of llama-quantize's output for each
# fixture (shared/tools/mkgguf.py presets) and type, plus the fixtures' own hashes.
#   tools/quantize_golden.sh /work/llama.cpp/build/bin/llama-quantize ../shared > tests/data/quantize/golden.sha256
set -euo pipefail
LQ=$1 SHARED=$2
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
TYPES="Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q6_K Q4_K_M Q5_K_M Q4_K_S Q5_K_S F16 BF16"
for fx in tiny-g3-f32 tiny-g4-f32 tiny-g4-moe-f32 tiny-g3-f16 tiny-g4-bf16; do
  preset=${fx%-*} dtype=${fx##*-}
  $PY "$SHARED/tools/mkgguf.py" --preset "$preset" --dtype "$dtype" --out "$T/$fx.gguf" --quiet
  echo "$(sha256sum "$T/$fx.gguf" | cut -d' ' -f1) fixture:$fx.gguf"
  for ty in $TYPES; do
    "$LQ" "$T/$fx.gguf" "$T/$fx.$ty.gguf" "$ty" 2 > "$T/log" 2>&1 || { cat "$T/log" >&2; exit 1; }
    echo "$(sha256sum "$T/$fx.$ty.gguf" | cut -d' ' -f1) $fx.$ty.gguf"
    rm -f "$T/$fx.$ty.gguf"
  done
done
