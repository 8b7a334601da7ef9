#!/usr/bin/env bash
# e2e for the model store: `gemrun pull` against a loopback imitation of the Hugging Face hub
# (hf_mock_server.py: listing with LFS oids, redirect to a CDN path, Range, 401, 404, 429 with
# Retry-After, a dropped connection, wrong bytes, a slow file to kill a pull mid-way), a file
# size limit standing in for a full disk, then list / show / rm and `run -m NAME` from the store.
# Args: GEMRUN TESTDATA_DIR [SHARED_DIR]
set -euo pipefail
GEMRUN=$1 DATA=$2
PY=/usr/bin/python3; [ -x $PY ] || PY=python3
M=$DATA/testdata/models V=$DATA/vision/models
T=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)
$PY "$HERE/hf_mock_server.py" "$T/port" "$T/log" "$M/g3-tiny-q4_0.gguf" "$M/g3-tiny-q8_0.gguf" \
  "$V/g4v-f32.gguf" "$V/g4v-mmproj-f16.gguf" "$M/g4-tiny-q4_k_m.gguf" "$M/g3-tiny-q4_k_m.gguf" \
  "$M/g4-tiny-q8_0.gguf" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "mock server did not start"
export GEMRUN_HOME=$T/store HF_ENDPOINT=http://127.0.0.1:$(cat "$T/port")
unset HF_TOKEN GEMRUN_OFFLINE
S=$GEMRUN_HOME
sha() { sha256sum "$1" | cut -d' ' -f1; }
requests() { wc -l < "$T/log" 2>/dev/null || echo 0; }
# expect RC NEEDLE CMD...: runs CMD, checks its exit code and that stderr+stdout contain NEEDLE.
expect() {
  local want=$1 needle=$2; shift 2
  local rc=0; "$@" > "$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out"; fail "$* exited $rc, want $want"; }
  grep -qF -- "$needle" "$T/out" || { cat "$T/out"; fail "$*: output lacks '$needle'"; }
}

# 1. ORG/REPO:QUANT: listing, redirect to the CDN path, hash checked, manifest written.
expect 0 "pulled org/tiny-GGUF:Q4_0" "$GEMRUN" pull org/tiny-GGUF:Q4_0
Q40=$(sha "$M/g3-tiny-q4_0.gguf")
cmp "$S/blobs/sha256-$Q40" "$M/g3-tiny-q4_0.gguf" || fail "blob differs from the served file"
grep -q '"/cdn/org--tiny-GGUF/' "$T/log" || fail "the redirect to the CDN path was not followed"

# 2. A second name for the same file takes no space and no download.
n=$(requests)
expect 0 "pulled alias" "$GEMRUN" pull hf://org/tiny-GGUF/tiny-Q4_0.gguf --name alias
grep -q "already in the store" "$T/out" || fail "the shared blob was downloaded again"
[ "$(ls "$S/blobs" | wc -l)" = 1 ] || fail "two names for one file made two blobs"
[ "$(tail -n +$((n + 1)) "$T/log" | grep -c /cdn/)" = 0 ] || fail "the alias re-downloaded the file"

# 3. list / show / run from the store; nothing but pull touches the network.
n=$(requests)
expect 0 "alias" "$GEMRUN" list
$GEMRUN list --json | $PY -c "import json,sys; d=json.load(sys.stdin); assert sorted(m['name'] for m in d)==['alias','org/tiny-GGUF:Q4_0'], d; assert d[0]['model']['sha256']=='$Q40'" \
  || fail "list --json"
expect 0 "memory" "$GEMRUN" show alias
$GEMRUN show alias --json | $PY -c "import json,sys; d=json.load(sys.stdin); assert d['architecture']=='gemma3' and d['memory']['kv_cache_f16_bytes']>0, d" \
  || fail "show --json"
want=$($GEMRUN run -m "$M/g3-tiny-q4_0.gguf" --prompt-ids 2,105,236 -n 4 --temp 0 --json -t 1 2>/dev/null)
got=$($GEMRUN run -m alias --prompt-ids 2,105,236 -n 4 --temp 0 --json -t 1 2>/dev/null) || fail "run -m alias"
[ "$(echo "$want" | $PY -c 'import json,sys; print(json.load(sys.stdin)["tokens"])')" = \
  "$(echo "$got" | $PY -c 'import json,sys; print(json.load(sys.stdin)["tokens"])')" ] || fail "run -m NAME differs from the file"
[ "$(requests)" = "$n" ] || fail "list/show/run contacted the network"

# 4. rm keeps a blob another name uses, deletes it with the last name.
expect 0 "removed org/tiny-GGUF:Q4_0" "$GEMRUN" rm org/tiny-GGUF:Q4_0
[ -f "$S/blobs/sha256-$Q40" ] || fail "rm deleted a blob still used by alias"
expect 0 "removed alias" "$GEMRUN" rm alias
[ ! -e "$S/blobs/sha256-$Q40" ] || fail "rm of the last name kept the blob"
expect 2 "no model named 'alias'" "$GEMRUN" rm alias

# 5. 404s name the repo / file / quantization; 401 names HF_TOKEN; the token unlocks it.
expect 2 "org/nope-GGUF" "$GEMRUN" pull org/nope-GGUF:Q4_0
expect 2 "has no file missing.gguf" "$GEMRUN" pull hf://org/tiny-GGUF/missing.gguf
expect 2 "tiny-Q8_0.gguf" "$GEMRUN" pull org/tiny-GGUF:Q2_K
expect 1 "HF_TOKEN" "$GEMRUN" pull org/gated-GGUF:Q4_K_M
HF_TOKEN=secret expect 0 "pulled org/gated-GGUF:Q4_K_M" "$GEMRUN" pull org/gated-GGUF:Q4_K_M
echo secret > "$T/token"
expect 0 "pulled g2" "$GEMRUN" pull org/gated-GGUF:Q4_K_M --name g2 --token-file "$T/token" --force

# 6. 429 with Retry-After, then a connection dropped half way: resumed with Range, hash matches.
expect 0 "pulled org/flaky-GGUF:Q4_K_M" "$GEMRUN" pull org/flaky-GGUF:Q4_K_M
grep -q '"status": 429' "$T/log" || fail "no 429 was served"
grep -q '/cdn/org--flaky-GGUF/[^"]*", "status": 206' "$T/log" || fail "the dropped download was not resumed with Range"
cmp "$S/blobs/sha256-$(sha "$M/g3-tiny-q4_k_m.gguf")" "$M/g3-tiny-q4_k_m.gguf" || fail "resumed blob differs"

# 7. Wrong bytes: a mismatch names the file and both hashes and leaves nothing behind.
blobs=$(ls "$S/blobs" | wc -l)
expect 2 "SHA-256 mismatch for bad-Q8_0.gguf" "$GEMRUN" pull org/bad-GGUF:Q8_0
grep -qF "expected $(sha "$M/g3-tiny-q8_0.gguf")" "$T/out" || fail "the mismatch message lacks the expected hash"
[ "$(ls "$S/blobs" | wc -l)" = "$blobs" ] || fail "a mismatched file entered the store"
[ -z "$(ls "$S/partial")" ] || fail "a mismatched partial file was kept"
grep -q bad-GGUF <<< "$($GEMRUN list --json)" && fail "a mismatched pull wrote a manifest"

# 8. A killed pull is resumed by a second pull.
SLOW=$(sha "$M/g4-tiny-q8_0.gguf")
"$GEMRUN" pull org/slow-GGUF:Q8_0 > /dev/null 2>&1 &
PULL=$!
for _ in $(seq 100); do [ "$(stat -c %s "$S/partial/$SLOW.partial" 2>/dev/null || echo 0)" -gt 100000 ] && break; sleep 0.05; done
kill -9 $PULL; wait $PULL 2>/dev/null || true
have=$(stat -c %s "$S/partial/$SLOW.partial")
[ "$have" -gt 0 ] && [ "$have" -lt "$(stat -c %s "$M/g4-tiny-q8_0.gguf")" ] || fail "no partial file after the kill ($have bytes)"
expect 0 "resuming at" "$GEMRUN" pull org/slow-GGUF:Q8_0
grep -q "/cdn/org--slow-GGUF/[^\"]*\", \"status\": 206, \"range\": \"bytes=$have-\"" "$T/log" || fail "the second pull did not resume at $have"
cmp "$S/blobs/sha256-$SLOW" "$M/g4-tiny-q8_0.gguf" || fail "the resumed blob differs"

# 9. Disk full (a file size limit: writes fail with EFBIG): clear error, partial kept, resumed.
Q80=$(sha "$M/g3-tiny-q8_0.gguf")
rc=0; (trap '' XFSZ; ulimit -f 1024; exec "$GEMRUN" pull org/tiny-GGUF:Q8_0) > "$T/out" 2>&1 || rc=$?
[ "$rc" = 3 ] || { cat "$T/out"; fail "a write failure exited $rc, want 3"; }
grep -q "disk full" "$T/out" || { cat "$T/out"; fail "no disk-full message"; }
[ "$(stat -c %s "$S/partial/$Q80.partial")" -gt 0 ] || fail "the partial file was not kept"
expect 0 "resuming at" "$GEMRUN" pull org/tiny-GGUF:Q8_0
cmp "$S/blobs/sha256-$Q80" "$M/g3-tiny-q8_0.gguf" || fail "blob after the disk-full resume differs"

# 9b. The free-space check refuses a file larger than the disk before any download.
n=$(requests)
expect 3 "not enough disk space" "$GEMRUN" pull org/huge-GGUF:Q8_0
[ "$(tail -n +$((n + 1)) "$T/log" | grep -c /cdn/)" = 0 ] || fail "a download started despite the free-space check"

# 10. Offline never touches the network.
n=$(requests)
GEMRUN_OFFLINE=1 expect 1 "GEMRUN_OFFLINE=1" "$GEMRUN" pull org/vis-GGUF:F32
expect 1 "--offline" "$GEMRUN" pull org/vis-GGUF:F32 --offline
GEMRUN_OFFLINE=1 expect 0 "already in the store" "$GEMRUN" pull org/tiny-GGUF:Q8_0
[ "$(requests)" = "$n" ] || fail "offline mode contacted the network"

# 11. A plain URL: no published hash, computed and recorded.
expect 0 "publishes no hash" "$GEMRUN" pull "$HF_ENDPOINT/plain/tiny.gguf" --name plain
$GEMRUN list --json | $PY -c "import json,sys; d={m['name']:m for m in json.load(sys.stdin)}; assert d['plain']['model']['hash_origin']=='computed' and d['plain']['model']['sha256']=='$Q40'" \
  || fail "URL pull manifest"

# 12. A repo with a projector: fetched with the model, used by -m NAME without --mmproj.
expect 0 "+ projector" "$GEMRUN" pull org/vis-GGUF:F32
expect 0 "projector" "$GEMRUN" show org/vis-GGUF:F32
$GEMRUN run -m org/vis-GGUF:F32 --image "$DATA/vision/images/grad-224x224.png" -p "What is this?" -n 2 --temp 0 -t 1 \
  > "$T/out" 2>&1 || { cat "$T/out"; fail "run -m NAME --image without --mmproj"; }

# 12b. serve -m NAME advertises the store name and loads the projector from the manifest.
"$GEMRUN" serve -m org/vis-GGUF:F32 --port 0 -t 1 --parallel 1 2> "$T/serve.log" &
SERVE=$!
PORT=
for _ in $(seq 100); do
  PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/serve.log" | head -n1)
  [ -n "$PORT" ] && grep -q "ready" "$T/serve.log" && break
  kill -0 $SERVE 2>/dev/null || { cat "$T/serve.log"; fail "serve -m NAME exited"; }
  sleep 0.1
done
models=$(curl -s "http://127.0.0.1:$PORT/v1/models") || true
kill $SERVE; wait $SERVE 2>/dev/null || true
grep -q '"id":"org/vis-GGUF:F32"' <<< "$models" || fail "serve -m NAME does not advertise the store name: $models"
grep -q "projector $S/blobs/sha256-" "$T/serve.log" || { cat "$T/serve.log"; fail "serve -m NAME did not load the projector"; }

# 13. Air gap: export to a plain tar (GNU tar reads it), import into an empty store, run from it.
n=$(requests)
expect 0 "exported" "$GEMRUN" export org/vis-GGUF:F32 -o "$T/vis.tar"
tar -tf "$T/vis.tar" > "$T/members" || fail "GNU tar cannot read the bundle"
grep -q '^manifest.json$' "$T/members" && grep -q "^blobs/sha256-$(sha "$V/g4v-mmproj-f16.gguf")$" "$T/members" || fail "bundle members"
GEMRUN_HOME=$T/airgap expect 0 "+ projector" "$GEMRUN" import "$T/vis.tar" --name vis
cmp "$T/airgap/blobs/sha256-$(sha "$V/g4v-f32.gguf")" "$V/g4v-f32.gguf" || fail "imported blob differs"
GEMRUN_HOME=$T/airgap $GEMRUN run -m vis --image "$DATA/vision/images/grad-224x224.png" -p "What is this?" -n 2 --temp 0 -t 1 \
  > "$T/out" 2>&1 || { cat "$T/out"; fail "run -m NAME after import"; }
$PY - "$T/vis.tar" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[4096] ^= 0xFF  # inside the first blob
open(sys.argv[1], "wb").write(b)
PY
GEMRUN_HOME=$T/airgap2 expect 2 "SHA-256 mismatch" "$GEMRUN" import "$T/vis.tar"
[ -z "$(ls "$T/airgap2/blobs")" ] && [ -z "$(ls "$T/airgap2/manifests")" ] || fail "a damaged bundle left files in the store"
[ "$(requests)" = "$n" ] || fail "export/import contacted the network"
echo "store_test: all passed"
