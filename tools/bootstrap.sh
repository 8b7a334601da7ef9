#!/usr/bin/env bash
# Installs the Debian packages gemrun needs, builds it, and runs it on a bundled fixture.
# Usage: tools/bootstrap.sh            (as root or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config
      libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
      libcpp-httplib-dev libstb-dev libedit-dev python3-numpy clang libclang-rt-14-dev tmux)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

# The main job on a bundled fixture: load a model and print its metadata summary and
# the next-token logits statistics for a short prompt.
./build/gemrun inspect tests/data/testdata/models/g3-tiny-q4_0.gguf | head -n 12
./build/gemrun logits -m tests/data/testdata/models/g3-tiny-q4_0.gguf --ids 2,300,301,302 -o build/demo_logits.bin
