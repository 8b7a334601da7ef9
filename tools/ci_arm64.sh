#!/usr/bin/env bash
# CI stage: the AArch64 cross build (Debian's g++-aarch64-linux-gnu, cmake/aarch64-linux-gnu.cmake)
# and its kernel and logit-parity tests under qemu-user with "-cpu max" (which has dotprod and
# i8mm, so every NEON level must run: GEMRUN_REQUIRE_ISA makes a missing one a failure).
# Only the needed targets are built; the layers above the model are off (GEMRUN_WITH_APP=OFF).
# usage: tools/ci_arm64.sh            (needs g++-aarch64-linux-gnu, qemu-user-static: tools/bootstrap.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DGEMRUN_BUILD_BENCH=OFF >/dev/null
cmake --build build-arm64 -j"$(nproc)" --target kernels_test kernels_isa_test kernels_repack_test quant_test model_parity_test
# Scalar twins for every level (kernels_test loops over neon, neondot, neoni8mm), the feature
# fallback table, the F16/BF16 conversions, and the bundled-fixture logit parity (the project's
# port of ../shared/tools/check_parity.py; gemrun itself is not cross built) on the best level
# and forced onto the baseline level (model_parity_neon). The KV-cache and flash-attention
# variants of the parity test are left to the native run (minutes each under qemu).
export GEMRUN_REQUIRE_ISA=neoni8mm
ctest --test-dir build-arm64 --output-on-failure -j2 \
  -R '^(Kernels(Test|IsaTest)\.|Fp16\.|Bf16\.|ModelParity\.BundledGemma[34]$|model_parity_neon$)'
