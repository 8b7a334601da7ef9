#!/usr/bin/env bash
# e2e for `gemrun chat` through a pseudo-terminal: a turn, /help, multi-line input, /save,
# /load, Ctrl-C at the prompt, /exit — checking what a person would see.
# Args: GEMRUN TESTDATA_DIR SHARED_DIR
set -euo pipefail
GEMRUN=$1 DATA=$2
python3 - "$GEMRUN" "$DATA/testdata/models/g4-tiny-q8_0.gguf" <<'PY'
import os, pty, select, sys, time, json, tempfile
gemrun, model = sys.argv[1], sys.argv[2]
save = os.path.join(tempfile.mkdtemp(), "conv.json")
pid, fd = pty.fork()
if pid == 0:
    os.execv(gemrun, [gemrun, "chat", "-m", model, "--temp", "0", "-n", "8", "-c", "256", "-t", "1"])
buf = b""
def read_until(pat, timeout=60):
    global buf
    end = time.time() + timeout
    while pat.encode() not in buf:
        if time.time() > end:
            sys.exit(f"FAIL: timed out waiting for {pat!r}; screen so far:\n{buf.decode(errors='replace')}")
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    i = buf.index(pat.encode()) + len(pat)
    seen, buf = buf[:i], buf[i:]
    return seen.decode(errors="replace")
def send(s): os.write(fd, s.encode())
read_until("/help for commands.")
read_until("> ")
send("hello there\r")
out = read_until("tok/s]")           # the answer, then timings
read_until("> ")
send("/help\r")
assert "/save FILE" in read_until("Ctrl-C stops"), "help text"
read_until("> ")
send('"""\r'); read_until("... ")
send("first line\r"); read_until("... ")
send('"""\r')
read_until("tok/s]"); read_until("> ")
send(f"/save {save}\r")
assert "saved 4 messages" in read_until(")"), "save"
read_until("> ")
send("\x03")                          # Ctrl-C at the prompt does not quit
read_until("Ctrl-D to quit)")
send(f"/load {save}\r")
assert "loaded 4 messages" in read_until(")"), "load"
read_until("> ")
send("/exit\r")
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 0, f"exit status {status}"
conv = json.load(open(save))
assert [m["role"] for m in conv["messages"]] == ["user", "assistant", "user", "assistant"], conv
assert conv["messages"][2]["content"] == "first line\n", conv
print("chat e2e: ok")
PY

# Images: /image attaches a picture to the next message.
python3 - "$GEMRUN" "$DATA/vision" <<'PY'
import os, pty, select, sys, time
gemrun, v = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(gemrun, [gemrun, "chat", "-m", f"{v}/models/g4v-f32.gguf", "--mmproj", f"{v}/models/g4v-mmproj-f16.gguf",
                      "--temp", "0", "-n", "4", "-t", "1"])
buf = b""
def read_until(pat, timeout=120):
    global buf
    end = time.time() + timeout
    while pat.encode() not in buf:
        if time.time() > end:
            sys.exit(f"FAIL: timed out waiting for {pat!r}; screen so far:\n{buf.decode(errors='replace')}")
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    i = buf.index(pat.encode()) + len(pat)
    seen, buf = buf[:i], buf[i:]
    return seen.decode(errors="replace")
def send(s): os.write(fd, s.encode())
read_until("> ")
send(f"/image {v}/images/grad-224x224.png\r")
assert "tokens; it goes with your next message" in read_until("message)"), "attach"
read_until("> ")
send("/image /nonexistent.png\r")
assert "error" in read_until("> "), "missing image error"
send("what is this?\r")
read_until("tok/s]"); read_until("> ")
send("/exit\r")
_, status = os.waitpid(pid, 0)
assert os.WEXITSTATUS(status) == 0
print("chat image e2e: ok")
PY
