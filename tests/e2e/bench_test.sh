#!/usr/bin/env bash
# e2e for the kernel path `gemrun bench` reports: on every ISA level this CPU has (GEMRUN_ISA),
# the --json fields isa / kernel_layout / repacked_bytes and the text "kernels:" line agree with
# what ran (no repacked weights on scalar or with GEMRUN_REPACK=0, row-interleaved tiles on the
# VNNI levels, whose Q4_0 tiles exist for every machine that has the level).
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
MODEL="$DATA/testdata/models/g3-tiny-q4_0.gguf"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
for isa in scalar avx2 avx2vnni avx512; do
  out=$(GEMRUN_ISA=$isa "$GEMRUN" bench -m "$MODEL" -t 1 -p 8 -n 2 -r 1 --json 2>/dev/null)
  ran=$(field isa <<<"$out")
  if [[ $ran != "$isa" ]]; then echo "skip $isa (not on this CPU: ran $ran)"; continue; fi
  layout=$(field kernel_layout <<<"$out") bytes=$(field repacked_bytes <<<"$out")
  case $isa in
    scalar) [[ $bytes == 0 && $layout == file* ]] || { echo "FAIL scalar: $layout $bytes"; exit 1; } ;;
    avx2vnni|avx512) [[ $bytes -gt 0 && $layout == *vpdpbusd* ]] || { echo "FAIL $isa: $layout $bytes"; exit 1; } ;;
    avx2) [[ $bytes -gt 0 && $layout == *vpmaddubsw* ]] || { echo "FAIL avx2: $layout $bytes"; exit 1; } ;;
  esac
  text=$(GEMRUN_ISA=$isa GEMRUN_REPACK=0 "$GEMRUN" bench -m "$MODEL" -t 1 -p 4 -n 0 -r 1 2>/dev/null)
  grep -q "^kernels: $isa, file layout (no repacked weights); 0.0 MB repacked" <<<"$text" ||
    { echo "FAIL text line with GEMRUN_REPACK=0 on $isa:"; echo "$text"; exit 1; }
  echo "ok $isa: $layout ($bytes bytes)"
done
