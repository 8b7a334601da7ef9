#!/usr/bin/env python3
"""Hostile-client suite for `gemrun serve` (loopback only, bounded, stops by itself).

Starts a real server on the bundled Gemma 4 vision fixture and, all at the same time:
slow-header connections (one address, then spread over many to reach the total cap), slow-body
uploads, clients that never read their streamed answer, 64 MB bodies (Content-Length and
chunked), 10k-deep JSON, concurrent image requests at the body limit, and image URLs to
127.0.0.1 / 10.0.0.1 / 169.254.169.254 directly, behind a redirect and behind DNS names (pinned
with the server's test hook). Meanwhile /health must answer within 1 s every time, a normal
chat request from another address must complete, the server's RSS must stay under a bound, and
afterwards its descriptors and threads return to their baseline and SIGTERM exits 0.

Usage: hostile.py GEMRUN DATA_DIR. HOSTILE_SCALE (default 1) scales the attack counts (0.2 under
sanitizers if the full run does not fit). Prints one line of numbers at the end.
"""
import atexit
import base64
import http.server
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

GEMRUN, DATA = sys.argv[1], sys.argv[2]
SCALE = float(os.environ.get("HOSTILE_SCALE", "1"))
SANITIZED = b"__asan_init" in open(GEMRUN, "rb").read()
VM = os.path.join(DATA, "vision/models/g4v-f32.gguf")
VP = os.path.join(DATA, "vision/models/g4v-mmproj-f16.gguf")
HOST = "127.0.0.1"
READ_TIMEOUT = 3
MAX_BODY = 4 << 20
BUFFERED = 48 << 20
RSS_BOUND_MB = 1024 if SANITIZED else 600
failures = []
# /health must answer within 1 s. On a machine whose run queue is far longer than its cores
# (shared CI runners while other jobs build), a process can wait that long to be scheduled at
# all: the limit is relaxed to 3 s there, and the run says so.
HEALTH_LIMIT = 1.0
if os.getloadavg()[0] > 4 * os.cpu_count():
    HEALTH_LIMIT = 3.0
    print(f"note: load average {os.getloadavg()[0]:.0f} on {os.cpu_count()} cores: /health limit relaxed to 3 s")
lock = threading.Lock()


def n(count):
    return max(1, int(count * SCALE))


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f" {detail}"), flush=True)
    if not cond:
        failures.append(name)


def connect(src, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect((HOST, PORT))
    return s


def request(src, method, path, body=b"", headers=None, timeout=30):
    """One request on a fresh connection; (status, headers text, body) or (None, error, b"")."""
    try:
        s = connect(src, timeout)
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
    except OSError as e:
        return None, str(e), b""
    m = re.match(rb"HTTP/1\.1 (\d+)", data)
    head, _, rest = data.partition(b"\r\n\r\n")
    return (int(m.group(1)) if m else None), head.decode("latin-1"), rest


def chat_body(content, max_tokens=4, stream=False):
    return json.dumps({"model": "m", "max_tokens": max_tokens, "temperature": 0, "stream": stream,
                       "messages": [{"role": "user", "content": content}]}).encode()


def png(w, h, seed):
    """An incompressible RGB PNG (stored deflate blocks), about 3 * w * h bytes."""
    raw = bytearray()
    x = seed
    for _ in range(h):
        row = bytearray(3 * w)
        for i in range(0, len(row), 4):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF
            row[i:i + 4] = x.to_bytes(4, "little")[: len(row) - i]
        raw += b"\x00" + row
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw), 0)) + chunk(b"IEND", b""))


# ---- the server -------------------------------------------------------------------------------
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))

redirects = {}  # path -> target, served by the "public" first hop on 127.0.0.2


class Redirector(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(302)
        self.send_header("Location", redirects.get(self.path, "http://127.0.0.1:1/"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


hop = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Redirector)
HOP_PORT = hop.server_address[1]
threading.Thread(target=hop.serve_forever, daemon=True).start()

log_path = os.environ.get("HOSTILE_LOG", "/tmp/gemrun-hostile-%d.log" % os.getpid())
env = dict(os.environ)
# Test hooks of `serve`: DNS names pinned to refused addresses; 127.0.0.2 plays a public host.
env["GEMRUN_TEST_IMAGE_RESOLVE"] = "loop.test:80:127.0.0.1,ten.test:80:10.0.0.1,meta.test:80:169.254.169.254"
env["GEMRUN_TEST_IMAGE_PUBLIC"] = "127.0.0.2"
logf = open(log_path, "wb")
server = subprocess.Popen([GEMRUN, "serve", "-m", VM, "--mmproj", VP, "--port", "0", "-t", "2", "--parallel", "2",
                           "--ctx-size", "1024", "--max-queue", "16", "--read-timeout", str(READ_TIMEOUT),
                           "--max-body-bytes", str(MAX_BODY), "--max-buffered-bytes", str(BUFFERED),
                           "--max-connections", "512", "--max-connections-per-client", "64", "--timeout", "60",
                           "--allow-image-urls"], stderr=logf, env=env)
atexit.register(lambda: server.poll() is None and server.kill())  # never leave a server behind
signal.signal(signal.SIGALRM, lambda *_: os._exit(server.kill() or 124))
signal.alarm(600 if SANITIZED else 240)  # the whole run is bounded
PORT = None
t_start = time.time()
while time.time() - t_start < 30 and PORT is None:
    m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", open(log_path, "rb").read())
    PORT = int(m.group(1)) if m else None
    time.sleep(0.05)
assert PORT, open(log_path, "rb").read()[-2000:]
while request(HOST, "GET", "/health", timeout=2)[0] != 200:
    assert server.poll() is None and time.time() - t_start < 60, open(log_path, "rb").read()[-2000:]
    time.sleep(0.1)
fds = lambda: len(os.listdir(f"/proc/{server.pid}/fd"))
threads = lambda: len(os.listdir(f"/proc/{server.pid}/task"))
status_kb = lambda key: int(re.search(rf"{key}:\s+(\d+)", open(f"/proc/{server.pid}/status").read()).group(1))
# Warm up (first encode, first generation) so the baselines are the steady state.
request(HOST, "POST", "/v1/chat/completions", chat_body([{"type": "image_url", "image_url": {
    "url": "data:image/png;base64," + base64.b64encode(png(64, 64, 1)).decode()}}, {"type": "text", "text": "x"}]))
base_fds, base_threads, base_rss = fds(), threads(), status_kb("VmRSS")
print(f"server up on {PORT}: {base_fds} fds, {base_threads} threads, RSS {base_rss // 1024} MiB", flush=True)

# ---- probes: /health every 100 ms, RSS -------------------------------------------------------

PROBER = r"""
import json, os, re, socket, sys, time
port, pid, stop = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
n, worst, bad, peak = 0, 0.0, [], 0
while not os.path.exists(stop):
    t0 = time.time()
    st = None
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
        s.close()
        m = re.match(rb"HTTP/1\.1 (\d+)", data)
        st = int(m.group(1)) if m else None
    except OSError as e:
        st = str(e)[:60]
    dt = time.time() - t0
    n += 1
    worst = max(worst, dt)
    if st != 200 or dt > float(sys.argv[4]):
        bad.append((round(dt, 2), st))
    try:
        peak = max(peak, int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)))
    except OSError:
        pass
    time.sleep(0.1)
print(json.dumps({"n": n, "max": worst, "bad": bad, "rss_peak_kb": peak}))
"""
stop_file = log_path + ".stop"


def start_prober():
    """/health every 100 ms from its own process (the attack threads here must not delay it)."""
    return subprocess.Popen([sys.executable, "-c", PROBER, str(PORT), str(server.pid), stop_file, str(HEALTH_LIMIT)],
                            stdout=subprocess.PIPE)


# ---- attacks ----------------------------------------------------------------------------------
results = {}


def trickle(name, sources, count, first, drip, seconds):
    """count connections (round-robin over sources) send `first`, then `drip` every 0.5 s."""
    socks, refused = [], 0
    for i in range(count):
        try:
            s = connect(sources[i % len(sources)], 5)
            s.sendall(first)
            s.setblocking(False)
            socks.append((s, time.time()))
        except OSError:
            refused += 1
    alive, cut_after = list(socks), []
    end = time.time() + seconds
    while alive and time.time() < end:
        time.sleep(0.5)
        still = []
        for s, t0 in alive:
            try:
                s.send(drip)
                s.recv(4096, socket.MSG_PEEK)  # data (an error answer) or b"" (closed): cut
                raise ConnectionResetError
            except BlockingIOError:
                still.append((s, t0))
            except OSError:
                cut_after.append(time.time() - t0)
        alive = still
    for s, _ in socks:
        s.close()
    results[name] = {"count": count, "refused": refused, "cut": len(cut_after), "left": len(alive),
                     "max_cut_s": round(max(cut_after, default=0), 1)}


def never_read(count, src):
    socks = []
    body = chat_body("Tell me a long story.", max_tokens=400, stream=True)
    for _ in range(count):
        try:
            s = connect(src, 5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            socks.append(s)
        except OSError:
            pass
    time.sleep(8)
    for s in socks:
        s.close()
    results["never_read"] = {"count": count, "sent": len(socks)}


def big_bodies(count, src):
    statuses = []
    for i in range(count):
        try:
            s = connect(src, 15)
            chunked = i % 2 == 1
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" +
                      (b"Transfer-Encoding: chunked\r\n\r\n" if chunked else b"Content-Length: %d\r\n\r\n" % (64 << 20)))
            block = b"x" * (1 << 20)
            try:
                for _ in range(64):
                    s.sendall(b"100000\r\n" + block + b"\r\n" if chunked else block)
            except OSError:
                pass  # the server stopped reading: expected
            data = b""
            try:
                while len(data) < 100:
                    b = s.recv(4096)
                    if not b:
                        break
                    data += b
            except OSError:
                pass
            m = re.match(rb"HTTP/1\.1 (\d+)", data)
            statuses.append(int(m.group(1)) if m else None)
            s.close()
        except OSError:
            statuses.append(None)
    results["big_bodies"] = statuses


def deep_json(src):
    body = b'{"model": "m", "messages": ' + b"[" * 10000 + b"]" * 10000 + b"}"
    results["deep_json"] = request(src, "POST", "/v1/chat/completions", body)[0]


def images_at_limit(count, src):
    img = png(1000, 1000, 7)
    while len(base64.b64encode(img)) + 400 > MAX_BODY:
        img = png(900, 1000, 7) if len(img) > 2800000 else img[:-1]
    body = chat_body([{"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(img).decode()}},
                      {"type": "text", "text": "Describe."}], max_tokens=1)
    codes = [None] * count

    def one(i):
        codes[i] = request(src, "POST", "/v1/chat/completions", body, timeout=60)[0]
    ts = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    results["images"] = {"body_bytes": len(body), "codes": {c: codes.count(c) for c in set(codes)}}


def image_urls(src):
    redirects.update({"/r-loop": f"http://127.0.0.1:{PORT}/health", "/r-ten": "http://10.0.0.1/x.png",
                      "/r-meta": "http://169.254.169.254/latest/meta-data/", "/r-name": "http://meta.test/x.png"})
    urls = [f"http://127.0.0.1:{PORT}/health", "http://10.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/", "http://loop.test/x.png", "http://ten.test/x.png", "http://meta.test/x.png"]
    urls += [f"http://127.0.0.2:{HOP_PORT}{p}" for p in ("/r-loop", "/r-ten", "/r-meta", "/r-name")]
    out = {}
    for u in urls:
        t0 = time.time()
        st, _, body = request(src, "POST", "/v1/chat/completions",
                              chat_body([{"type": "image_url", "image_url": {"url": u}}, {"type": "text", "text": "x"}]))
        out[u] = (st, b"image URL not allowed" in body, round(time.time() - t0, 2))
    results["urls"] = out


def normal_chat():
    """A well-behaved client from its own address: retries 503/429 as told by Retry-After."""
    t0 = time.time()
    tries = 0
    while time.time() - t0 < 40:
        tries += 1
        st, head, body = request("127.0.0.99", "POST", "/v1/chat/completions", chat_body("Hello!", max_tokens=8), timeout=60)
        if st == 200:
            results["normal_chat"] = {"status": 200, "tries": tries, "seconds": round(time.time() - t0, 1)}
            return
        time.sleep(1)
    results["normal_chat"] = {"status": st, "tries": tries}


probe = start_prober()
t_attack = time.time()
header_line = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
attacks = [
    threading.Thread(target=trickle, args=("slow_headers", ["127.0.0.3"], n(500), header_line, b"X-a: b\r\n", 12)),
    threading.Thread(target=trickle, args=("slow_headers_spread", [f"127.0.1.{i}" for i in range(1, 21)], n(500),
                                           header_line, b"X-a: b\r\n", 12)),
    threading.Thread(target=trickle, args=("slow_bodies", ["127.0.0.4"], n(200),
                                           header_line + b"Content-Length: 100000\r\n\r\n{", b" ", 12)),
    threading.Thread(target=never_read, args=(n(100), "127.0.0.5")),
    threading.Thread(target=big_bodies, args=(n(4), "127.0.0.6")),
    threading.Thread(target=deep_json, args=("127.0.0.7",)),
    threading.Thread(target=images_at_limit, args=(n(50), "127.0.0.8")),
    threading.Thread(target=image_urls, args=("127.0.0.9",)),
]
for t in attacks:
    t.start()
time.sleep(1.5)  # the floods are in place
normal_chat()
for t in attacks:
    t.join()
attack_s = time.time() - t_attack

# ---- after: the server is back to its baseline -------------------------------------------------
deadline = time.time() + 15
while time.time() < deadline and (fds() > base_fds + 2 or threads() > base_threads):
    time.sleep(0.2)
end_fds, end_threads = fds(), threads()
metrics = request(HOST, "GET", "/metrics")[2].decode()
refused = {m.group(1): int(m.group(2)) for m in re.finditer(r'gemrun_connections_refused_total\{reason="(\w+)"\} (\d+)', metrics)}
results["refused"] = refused
open(stop_file, "w").close()
health = json.loads(probe.communicate(timeout=10)[0])
os.unlink(stop_file)
hwm = status_kb("VmHWM")
print(json.dumps(results), flush=True)

sh, shs, ss = results["slow_headers"], results["slow_headers_spread"], results["slow_bodies"]
check("slow headers (one address): per-client cap refuses or evicts, the rest cut by the read timeout",
      sh["left"] == 0 and sh["max_cut_s"] <= READ_TIMEOUT + 2, sh)
check("slow headers (20 addresses): cut by the read timeout or evicted at the total cap",
      shs["left"] == 0 and shs["max_cut_s"] <= READ_TIMEOUT + 2, shs)
check("/metrics counts the refusals (caps, header timeouts)",
      refused.get("client_cap", 0) > 0 and refused.get("header_timeout", 0) > 0, refused)
check("slow bodies cut by the total read timeout", ss["left"] == 0 and ss["max_cut_s"] <= READ_TIMEOUT + 2, ss)
check("never-reading clients sent their requests", results["never_read"]["sent"] > 0, results["never_read"])
check("64 MB bodies: 413 or cut, never accepted", all(c in (413, 503, None) for c in results["big_bodies"]),
      results["big_bodies"])
check("10k-deep JSON is a 400", results["deep_json"] == 400, results["deep_json"])
codes = results["images"]["codes"]
# Refused ones may also see the connection closed early (None) instead of reading the 503.
check("images at the body limit: 200, or 503/429/closed when the byte budget or the queue is full",
      set(codes) <= {200, 429, 503, None} and codes.get(200),
      codes)
for u, (st, refused, dt) in results["urls"].items():
    check(f"image URL {u} refused ({dt}s)", st == 400 and refused and dt < 2, (st, refused, dt))
logtext = open(log_path, "rb").read().decode("utf-8", "replace")
for addr in ("10.0.0.1 is private", "169.254.169.254 is link-local", "127.0.0.1 is loopback"):
    check(f"the log names the refused connect ({addr})", "refused to connect: " + addr in logtext)
check("a normal chat request completed", results["normal_chat"]["status"] == 200, results["normal_chat"])
check(f"/health answered every probe within {HEALTH_LIMIT:.0f} s ({health['n']} probes, max {health['max']:.3f}s)",
      not health["bad"], health["bad"][:5])
check(f"RSS peak {hwm // 1024} MiB under {RSS_BOUND_MB} MiB", hwm < RSS_BOUND_MB * 1024)
check(f"descriptors back to baseline ({base_fds} -> {end_fds})", end_fds <= base_fds + 2)
check(f"threads back to baseline ({base_threads} -> {end_threads})", end_threads <= base_threads)
check("server alive", server.poll() is None)
server.send_signal(signal.SIGTERM)
try:
    rc = server.wait(30)
except subprocess.TimeoutExpired:
    server.kill()
    rc = "hung"
check("SIGTERM exits 0", rc == 0, rc)
check("no sanitizer report", "Sanitizer" not in open(log_path, "rb").read().decode("utf-8", "replace"))
hop.shutdown()
total_s = time.time() - t_start
print(f"hostile: {total_s:.1f} s total ({attack_s:.1f} s of attacks, scale {SCALE}); /health {health['n']} probes, "
      f"max {health['max'] * 1000:.0f} ms; RSS base {base_rss // 1024} MiB, peak {hwm // 1024} MiB; "
      f"{len(failures)} failed", flush=True)
if failures:
    print("--- server log tail\n" + "\n".join(logtext.splitlines()[-30:]))
    sys.exit(1)
os.unlink(log_path)
