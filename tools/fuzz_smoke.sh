#!/usr/bin/env bash
# fuzz_smoke.sh - build every libFuzzer target (tests/fuzz/*_fuzz.cc) with clang and run each
# for a short time on its seed corpus. Exit status is non-zero if a build fails or any fuzzer
# finds a crash, leak, timeout or sanitizer report (the reproducer is left in build-fuzz/).
#
# usage: tools/fuzz_smoke.sh [SECONDS_PER_FUZZER (default 30)] [FUZZER_NAME...]
# env:   BUILD_DIR (default <repo>/build-fuzz), CXX (default clang++), JOBS (default 2),
#        FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2 -workers=2")
# needs: clang with libFuzzer (Debian: clang-14 + libclang-rt-14-dev), cmake, ninja.
#
# Targets: gguf_fuzz (GGUF reader), tokenizer_fuzz, audio_fuzz (audio decoding: src/audio/wav.cc, resample.cc),
# constrain_fuzz, server_json_fuzz (request bodies), http_fuzz (in-process serve of a tiny model over
# loopback), image_fuzz (PNG/JPEG decoding and preprocessing).
# Seeds come from tests/fuzz/corpus/<name without _fuzz>/ (e.g. corpus/gguf/ for gguf_fuzz);
# inputs the fuzzer finds go to BUILD_DIR/fuzz-corpus/<name>/, never into the source tree.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-30}
shift || true
build=${BUILD_DIR:-$repo/build-fuzz}
cxx=${CXX:-clang++}
jobs=${JOBS:-2}

if ! "$cxx" --version 2>/dev/null | grep -q clang; then
  echo "fuzz_smoke: $cxx is not clang; libFuzzer needs clang (set CXX=clang++)" >&2
  exit 2
fi

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGEMRUN_FUZZ=ON -DGEMRUN_BUILD_BENCH=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log" >&2; exit 1; }

if [[ $# -gt 0 ]]; then
  fuzzers=("$@")
else
  fuzzers=()
  for src in "$repo"/tests/fuzz/*_fuzz.cc; do
    [[ -e $src ]] && fuzzers+=("$(basename "$src" .cc)")
  done
fi
if [[ ${#fuzzers[@]} -eq 0 ]]; then
  echo "fuzz_smoke: no tests/fuzz/*_fuzz.cc targets" >&2
  exit 1
fi
cmake --build "$build" --target "${fuzzers[@]}" -j "$jobs"

status=0
for name in "${fuzzers[@]}"; do
  short=${name%_fuzz}
  work="$build/fuzz-corpus/$short"
  artifacts="$build/fuzz-artifacts/$short/"
  mkdir -p "$work" "$artifacts"
  dirs=("$work")
  [[ -d $repo/tests/fuzz/corpus/$short ]] && dirs+=("$repo/tests/fuzz/corpus/$short")
  echo "=== $name: ${seconds}s on ${dirs[*]}"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  if ! "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$artifacts" ${FUZZ_ARGS:-} "${dirs[@]}" \
       >"$build/$name.log" 2>&1; then
    echo "fuzz_smoke: $name FAILED; log: $build/$name.log; reproducer(s) in $artifacts" >&2
    tail -n 60 "$build/$name.log" >&2
    status=1
  else
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|stat::new_units_added)' \
      "$build/$name.log" || true
  fi
done
exit $status
