#!/usr/bin/env bash
# Installs the Debian packages gemrun needs, builds it, and runs it on a bundled fixture.
# Usage: tools/bootstrap.sh            (as root or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config
      libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
      libcpp-httplib-dev libcurl4-openssl-dev libstb-dev libsndfile1-dev libsamplerate0-dev libedit-dev libpcre2-dev libssl-dev
      libpoppler-cpp-dev libzstd-dev liblzma-dev zlib1g-dev libxml2-dev python3-numpy clang libclang-rt-14-dev tmux strace
      g++-aarch64-linux-gnu qemu-user-static)  # the AArch64 cross build and its tests (tools/ci_arm64.sh)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
# Node.js + npm run the server's end-to-end tests with the real `openai` client.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"

# The main job on a bundled fixture: pipe a log line into `gemrun run` (a random-weight model,
# so the answer is gibberish, but every stage runs: tokenizer, chat format, prefill, sampling).
echo "Nov 24 12:00:01 web1 nginx[812]: bind() to 0.0.0.0:80 failed (98: Address in use)" |
  ./build/gemrun run -m tests/data/testdata/models/g3-tiny-q4_0.gguf -p "Why does nginx fail?" -n 24 --seed 1
