#!/usr/bin/env python3
"""A loopback imitation of the Hugging Face hub for store_test.sh (not a test by itself).

Serves GET /api/models/{org}/{repo}/tree/main (a listing with LFS sha256 oids) and
/{org}/{repo}/resolve/main/{file}, which redirects to a CDN-like /cdn/{org}--{repo}/{sha256} path that
honours Range. Repos (files are fixtures given on the command line):
  org/tiny-GGUF    tiny-Q4_0.gguf, tiny-Q8_0.gguf, README.md (not in LFS)
  org/vis-GGUF     vis-F32.gguf + mmproj-vis-f16.gguf
  org/gated-GGUF   gated-Q4_K_M.gguf; 401 without "Authorization: Bearer secret"
  org/flaky-GGUF   flaky-Q4_K_M.gguf: first request 429 (Retry-After: 1), second drops the
                   connection half way, then normal (resume with Range)
  org/bad-GGUF     bad-Q8_0.gguf: the listing has the true hash, the bytes have one flipped
  org/slow-GGUF    slow-Q8_0.gguf: served in small timed chunks (to kill a pull mid-file)
  org/huge-GGUF    huge-Q8_0.gguf, listed as 1 EiB (the free-space check refuses it)
  /plain/tiny.gguf a file with no published hash
Unknown repos and files: 404. Every request is appended to LOG as one JSON line.
usage: hf_mock_server.py PORT_FILE LOG TINY_Q4_0 TINY_Q8_0 VIS VIS_MMPROJ GATED FLAKY SLOW
"""
import hashlib, http.server, json, os, sys, threading, time

port_file, log_path = sys.argv[1], sys.argv[2]
paths = dict(zip(["tiny-Q4_0", "tiny-Q8_0", "vis", "vis-mmproj", "gated", "flaky", "slow"], sys.argv[3:]))
data = {k: open(p, "rb").read() for k, p in paths.items()}
data["huge"] = b"never downloaded"

def entry(name, key):
    return {"name": name, "key": key, "sha": hashlib.sha256(data[key]).hexdigest()}

REPOS = {
    "org/tiny-GGUF": [entry("tiny-Q4_0.gguf", "tiny-Q4_0"), entry("tiny-Q8_0.gguf", "tiny-Q8_0")],
    "org/vis-GGUF": [entry("vis-F32.gguf", "vis"), entry("mmproj-vis-f16.gguf", "vis-mmproj")],
    "org/gated-GGUF": [entry("gated-Q4_K_M.gguf", "gated")],
    "org/flaky-GGUF": [entry("flaky-Q4_K_M.gguf", "flaky")],
    "org/bad-GGUF": [entry("bad-Q8_0.gguf", "tiny-Q8_0")],
    "org/slow-GGUF": [entry("slow-Q8_0.gguf", "slow")],
    "org/huge-GGUF": [dict(entry("huge-Q8_0.gguf", "huge"), fake_size=1 << 60)],  # 1 EiB: no disk has that
}
lock = threading.Lock()
counts = {}

def count(key):
    with lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log(self, status, **extra):
        rec = {"path": self.path, "status": status, "range": self.headers.get("Range"),
               "auth": self.headers.get("Authorization") is not None}
        rec.update(extra)
        with lock, open(log_path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def reply(self, code, body=b"", headers=()):
        self.log(code)
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def authorized(self, repo):
        return repo != "org/gated-GGUF" or self.headers.get("Authorization") == "Bearer secret"

    def do_GET(self):
        p = self.path.split("?")[0]
        parts = p.strip("/").split("/")
        if p.startswith("/api/models/") and p.endswith("/tree/main"):
            repo = "/".join(parts[2:4])
            if repo not in REPOS:
                return self.reply(404, b'{"error":"Repository not found"}')
            if not self.authorized(repo):
                return self.reply(401, b'{"error":"Access to this repo is restricted"}')
            listing = [{"type": "file", "path": "README.md", "size": 12, "oid": "0" * 40}]
            for f in REPOS[repo]:
                size = f.get("fake_size", len(data[f["key"]]))
                listing.append({"type": "file", "path": f["name"], "size": size, "oid": "1" * 40,
                                "lfs": {"oid": f["sha"], "size": size, "pointerSize": 134}})
            return self.reply(200, json.dumps(listing).encode(), [("Content-Type", "application/json")])
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, name = "/".join(parts[:2]), "/".join(parts[4:])
            f = next((f for f in REPOS.get(repo, []) if f["name"] == name), None)
            if f is None:
                return self.reply(404, b"Entry not found")
            if not self.authorized(repo):
                return self.reply(401, b"Access restricted")
            cdn = "/cdn/" + repo.replace("/", "--") + "/" + f["sha"] + "?name=" + name
            return self.reply(302, b"", [("Location", cdn)])
        if parts[0] == "cdn" and len(parts) == 3:
            repo = parts[1].replace("--", "/")
            f = next((f for f in REPOS.get(repo, []) if f["sha"] == parts[2]), None)
            if f is not None:
                return self.serve_file(repo, f["key"])
        if p == "/plain/tiny.gguf":
            return self.serve_file("plain", "tiny-Q4_0")
        return self.reply(404, b"not found")

    def serve_file(self, repo, key):
        body = data[key]
        n = count(repo)
        if repo == "org/flaky-GGUF" and n == 1:
            return self.reply(429, b"slow down", [("Retry-After", "1")])
        if repo == "org/bad-GGUF":
            body = body[:1000] + bytes([body[1000] ^ 0xFF]) + body[1001:]
        start, end, closed = 0, len(body), False
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and "-" in rng:  # "bytes=N-" (resume) or "bytes=N-M" (fit's header)
            first, last = rng[6:].split("-", 1)
            start = int(first)
            if last:
                end, closed = min(len(body), int(last) + 1), True
            if start >= len(body):
                return self.reply(416, b"", [("Content-Range", f"bytes */{len(body)}")])
        chunk = body[start:end]
        partial = start > 0 or closed
        self.log(206 if partial else 200, n=n, sent=len(chunk))
        self.send_response(206 if partial else 200)
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(chunk)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if repo == "org/flaky-GGUF" and n == 2:  # drop the connection half way
            self.wfile.write(chunk[:len(chunk) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if repo == "org/slow-GGUF":
            for i in range(0, len(chunk), 32768):
                self.wfile.write(chunk[i:i + 32768])
                self.wfile.flush()
                time.sleep(0.05)
            return
        self.wfile.write(chunk)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
srv.handle_error = lambda request, address: None  # clients killed mid-file are part of the test
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
