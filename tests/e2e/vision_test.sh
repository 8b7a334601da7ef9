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
  exec "$py" "$checker" --gemrun "$gemrun" --testdata "$shared/testdata/vision"
fi
exec "$py" "$checker" --gemrun "$gemrun" --testdata "$data/vision" --only g4v
