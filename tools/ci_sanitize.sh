#!/usr/bin/env bash
# The input-facing suites (GGUF reader, tokenizer, images, HTTP server, engine) and the
# repacked-weight and attention kernels under AddressSanitizer + UndefinedBehaviorSanitizer,
# then a short libFuzzer smoke run.
# usage: tools/ci_sanitize.sh [FUZZ_SECONDS (default 20)]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGEMRUN_SANITIZE=ON -DGEMRUN_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2 -R 'Gguf|gguf|Tokeniz|tokeniz|Vision|vision|Server|server|Session|Generation|DecodeLoop|Sampler|Repack|AttentionTest'
bash tools/fuzz_smoke.sh "${1:-20}"
