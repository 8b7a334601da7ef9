#!/usr/bin/env bash
# Hostile clients against a real `gemrun serve` on loopback (slow headers and bodies, readers that
# never read, 64 MB bodies, deep JSON, images at the body limit, image URLs to private and
# metadata addresses): /health stays under 1 s, a normal chat completes, RSS stays bounded,
# descriptors and threads return to baseline. See tests/e2e/server/hostile.py.
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR]. HOSTILE_SCALE scales the attack counts (default 1).
set -euo pipefail
exec /usr/bin/python3 "$(cd "$(dirname "$0")" && pwd)/server/hostile.py" "$1" "$2"
