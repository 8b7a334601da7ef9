#!/usr/bin/env bash
# e2e for `gemrun chat` through a pseudo-terminal: a turn, /help, multi-line input, /save,
# /load, Ctrl-C at the prompt, /image, /exit — checking what a person would see.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
export PYTHONPATH="$(cd "$(dirname "$0")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"

python3 - "$GEMRUN" "$DATA/testdata/models/g4-tiny-q8_0.gguf" <<'PY'
import json, os, sys, tempfile
from pty_session import PtySession
gemrun, model = sys.argv[1], sys.argv[2]
save = os.path.join(tempfile.mkdtemp(), "conv.json")
t = PtySession([gemrun, "chat", "-m", model, "--temp", "0", "-n", "8", "-c", "256", "-t", "1"])
t.read_until("/help for commands.")
t.read_until("> ")
t.send("hello there\r")
t.read_until("tok/s]")               # the answer, then timings
t.read_until("> ")
t.send("/help\r")
assert "/save FILE" in t.read_until("Ctrl-C stops"), "help text"
t.read_until("> ")
t.send('"""\r'); t.read_until("... ")
t.send("first line\r"); t.read_until("... ")
t.send('"""\r')
t.read_until("tok/s]"); t.read_until("> ")
t.send(f"/save {save}\r")
assert "saved 4 messages" in t.read_until(")"), "save"
t.read_until("> ")
t.send("\x03")                       # Ctrl-C at the prompt does not quit
t.read_until("Ctrl-D to quit)")
t.send(f"/load {save}\r")
assert "loaded 4 messages" in t.read_until(")"), "load"
t.read_until("> ")
t.send("/exit\r")
assert t.wait() == 0, "exit status"
conv = json.load(open(save))
assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "user", "assistant"], conv
assert conv["messages"][2]["content"] == "first line\n", conv
print("chat e2e: ok")
PY

# Images: /image attaches a picture to the next message.
python3 - "$GEMRUN" "$DATA/vision" <<'PY'
import sys
from pty_session import PtySession
gemrun, v = sys.argv[1], sys.argv[2]
t = PtySession([gemrun, "chat", "-m", f"{v}/models/g4v-f32.gguf", "--mmproj", f"{v}/models/g4v-mmproj-f16.gguf",
                "--temp", "0", "-n", "4", "-t", "1"])
t.read_until("> ")
t.send(f"/image {v}/images/grad-224x224.png\r")
assert "tokens; it goes with your next message" in t.read_until("message)"), "attach"
t.read_until("> ")
t.send("/image /nonexistent.png\r")
assert "error" in t.read_until("> "), "missing image error"
t.send("what is this?\r")
t.read_until("tok/s]"); t.read_until("> ")
t.send("/exit\r")
assert t.wait() == 0
print("chat image e2e: ok")
PY
