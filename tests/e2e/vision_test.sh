#!/usr/bin/env bash
# Vision parity end to end: runs shared/tools/check_vision.py (embed-image and logits with
# images against llama.cpp goldens) on the full shared fixture set when it exists, otherwise on
# the bundled subset in tests/data/vision (its g4v goldens: the g3v text model is not bundled).
# Args: GEMRUN_BINARY TESTS_DATA_DIR SHARED_DIR
set -euo pipefail
gemrun=$1 data=$2 shared=$3
py=/usr/bin/python3
if ! "$py" -c 'import numpy' 2>/dev/null; then
  echo "SKIP: $py has no numpy (Debian python3-numpy)"; exit 0
fi
checker=$shared/tools/check_vision.py
if [[ ! -f $checker ]]; then
  echo "SKIP: $checker not found"; exit 0
fi
if [[ -f $shared/testdata/vision/manifest.json ]]; then
  td=$shared/testdata/vision
  if "$gemrun" embed-audio --help >/dev/null 2>&1; then
    exec "$py" "$checker" --gemrun "$gemrun" --testdata "$td"
  fi
  # A build without the audio path: the goldens without an audio clip, one prompt at a time.
  prompts=$("$py" -c 'import json, sys
m = json.load(open(sys.argv[1]))
print(" ".join(sorted({g["prompt"] for g in m["goldens"] if not g.get("audio")})))' "$td/manifest.json")
  for p in $prompts; do
    "$py" "$checker" --gemrun "$gemrun" --testdata "$td" --only "/$p" | tail -1
  done
  exit 0
fi
exec "$py" "$checker" --gemrun "$gemrun" --testdata "$data/vision" --only g4v
