#!/usr/bin/env python3
"""Abuse suite for `gemrun serve` on loopback: malformed and hostile requests, slow clients,
abrupt disconnects and connection floods. Every loop is bounded; the server must keep answering
/health and free every slot. Usage: abuse.py PORT API_KEY READ_TIMEOUT_S [--images PNG]
With --images (a server started with --mmproj) only the image section runs: corrupt, truncated,
oversized and mislabelled images, bad base64, too many images, disconnects during encoding."""
import base64
import json
import socket
import struct
import sys
import threading
import time
import zlib

PORT, KEY, READ_TIMEOUT = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
IMAGE_PNG = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--images" else None
HOST = "127.0.0.1"
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def connect(timeout=10):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s, limit=1 << 20):
    data = b""
    try:
        while len(data) < limit:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def request(method, path, body=None, headers=None, key=KEY, timeout=30):
    """One HTTP/1.1 request on a fresh connection (Connection: close); returns (status, headers, body)."""
    s = connect(timeout)
    body_bytes = body if isinstance(body, bytes) else (body or "").encode()
    h = {"Host": "x", "Connection": "close", "Content-Length": str(len(body_bytes))}
    if key:
        h["Authorization"] = f"Bearer {key}"
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    s.sendall(head.encode() + body_bytes)
    data = recv_all(s)
    s.close()
    return parse_response(data)


def parse_response(data):
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, headers, body


def health_ok():
    try:
        return request("GET", "/health", key=None, timeout=10)[0] == 200
    except OSError:
        return False


def metric(name):
    _, _, body = request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_slots_free(timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if metric("gemrun_slots_busy") == 0 and metric("gemrun_queue_depth") == 0:
            return True
        time.sleep(0.2)
    return False


def is_error_object(body, status):
    try:
        e = json.loads(body)["error"]
        return isinstance(e["message"], str) and e["type"] and status >= 400
    except Exception:
        return False


CHAT = "/v1/chat/completions"


def image_chat(url, n=1, role="user"):
    parts = [{"type": "image_url", "image_url": {"url": url}} for _ in range(n)] + [{"type": "text", "text": "What is it?"}]
    return json.dumps({"model": "m", "max_tokens": 4, "messages": [{"role": role, "content": parts}]})


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def fake_png(w, h):
    """A structurally valid PNG header claiming w x h pixels."""
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(b"\0" * 16)) + png_chunk(b"IEND", b""))


def image_section(png_path):
    png = open(png_path, "rb").read()
    b64 = lambda b: base64.b64encode(b).decode()
    data = lambda b, mime="image/png": f"data:{mime};base64,{b64(b)}"
    flipped = bytearray(png)
    flipped[40] ^= 0x55
    cases = [("truncated PNG (half)", data(png[: len(png) // 2])), ("truncated PNG (header only)", data(png[:33])),
             ("PNG with a bad CRC", data(bytes(flipped))), ("PNG signature only", data(png[:8])),
             ("random bytes", data(bytes(range(256)) * 8)), ("JPEG SOI only", data(b"\xff\xd8\xff\xe0", "image/jpeg")),
             ("GIF", data(b"GIF89a" + b"\0" * 64, "image/gif")), ("100000 x 100000 PNG header", data(fake_png(100000, 100000))),
             ("0 x 0 PNG header", data(fake_png(0, 0))), ("20000 x 1 PNG header", data(fake_png(20000, 1))),
             ("empty data", "data:image/png;base64,"), ("bad base64", "data:image/png;base64,@@@@"),
             ("text/plain data URL", data(png, "text/plain")), ("remote URL", "http://127.0.0.1:1/x.png"),
             ("file URL outside the allowed directory", "file:///etc/passwd"), ("path traversal", "/etc/../etc/passwd")]
    for name, url in cases:
        st, _, b = request("POST", CHAT, image_chat(url))
        ok = st == 400 and is_error_object(b, st) and json.loads(b)["error"]["param"] == "messages[0].content[0].image_url.url"
        check(f"image 400: {name}", ok, f"got {st} {b[:300]!r}")
    st, _, b = request("POST", CHAT, image_chat(data(png), n=9))
    check("image 400: 9 images (limit 8)", st == 400 and json.loads(b)["error"]["code"] == "too_many_images", f"{st} {b[:200]!r}")
    st, _, b = request("POST", CHAT, image_chat(data(png), role="assistant"))
    check("image 400: image in an assistant message", st == 400, f"{st} {b[:200]!r}")
    for path, body in [("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "x", "images": [b64(png[:100])]}]}),
                       ("/api/chat", {"model": "m", "messages": [{"role": "user", "content": "x", "images": ["not base64!"]}]}),
                       ("/api/generate", {"model": "m", "prompt": "x", "images": [b64(fake_png(1 << 20, 1 << 20))]}),
                       ("/api/generate", {"model": "m", "prompt": "x", "images": [7]})]:
        st, _, b = request("POST", path, json.dumps(body))
        check(f"ollama image 400 on {path}", st == 400 and isinstance(json.loads(b).get("error"), str), f"{st} {b[:200]!r}")
    check("healthy after bad images", health_ok())

    # Disconnects while images are being encoded, and corrupt images racing good ones.
    def fire_and_close(body):
        s = connect(30)
        s.sendall((f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for _ in range(4):
        fire_and_close(image_chat(data(png), n=4))
    results = []
    def good():
        st, _, b = request("POST", CHAT, image_chat(data(png)), timeout=120)
        results.append(st == 200 and json.loads(b)["usage"]["prompt_tokens"] > 10)
    def bad():
        st, _, _ = request("POST", CHAT, image_chat(data(png[: len(png) // 3])), timeout=120)
        results.append(st == 400)
    threads = [threading.Thread(target=good if i % 2 == 0 else bad) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("good and corrupt images in parallel", len(results) == 8 and all(results), str(results))
    check("slots freed after image disconnects", wait_slots_free(30), f"busy={metric('gemrun_slots_busy')}")
    check("images counted in /metrics", (metric("gemrun_images_total") or 0) > 0 and
          (metric("gemrun_image_encode_seconds_count") or 0) > 0)
    check("healthy at the end", health_ok())


if IMAGE_PNG:
    image_section(IMAGE_PNG)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

# 1. Malformed JSON and wrong types: 400 with an OpenAI-style error object.
for name, body in [("invalid JSON", '{"model": "m", "messages": [}'), ("empty body", ""), ("JSON array", "[1,2]"),
                   ("deep nesting", "[" * 100000), ("invalid UTF-8", b'{"model": "\xff\xfe"}'),
                   ("messages not an array", '{"model": "m", "messages": "hi"}'),
                   ("max_tokens string", '{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}'),
                   ("max_tokens 1e300", '{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e300}'),
                   ("max_tokens 2^70", '{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1180591620717411303424}'),
                   ("content number", '{"model": "m", "messages": [{"role": "user", "content": 5}]}'),
                   ("NaN temperature", '{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}')]:
    st, _, b = request("POST", CHAT, body)
    check(f"400 for {name}", st == 400 and is_error_object(b, st), f"got {st} {b[:200]!r}")
st, _, b = request("POST", CHAT, image_chat("data:image/png;base64,iVBORw0KGgo="))
check("image without --mmproj: 400 naming the flag", st == 400 and "--mmproj" in json.loads(b)["error"]["message"],
      f"{st} {b[:200]!r}")
st, _, b = request("POST", "/api/chat", '{"model": "m", "messages": 7}')
check("ollama 400 is {\"error\": ...}", st == 400 and isinstance(json.loads(b).get("error"), str), f"{st} {b[:200]!r}")
st, _, b = request("GET", "/nope")
check("404 with error object", st == 404 and is_error_object(b, st), f"{st} {b!r}")
st, h, b = request("GET", "/v1/models", key=None)
check("401 without key", st == 401 and is_error_object(b, st) and h.get("www-authenticate") == "Bearer", f"{st}")
st, _, b = request("GET", "/metrics", key="wrong")
check("401 on /metrics with a wrong key", st == 401, f"{st}")
check("/health needs no key", health_ok())

# 2. Huge max_tokens: accepted (generation stops at the context), streamed, then abandoned.
st, _, b = request("POST", CHAT, json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}],
                                                 "max_tokens": 10**12, "stop": ["\u00e9\u00e9\u00e9"], "temperature": 0, "logit_bias": {}}),
                   timeout=120)
check("huge max_tokens runs to the context", st == 200 and json.loads(b)["choices"][0]["finish_reason"] == "length",
      f"{st} {b[:200]!r}")

# 3. Bodies over the limit: 413 (Content-Length and chunked), server stays up.
def big_body(chunked, total=100 * 1024 * 1024):
    s = connect(30)
    te = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    s.sendall(f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n{te}\r\n\r\n".encode())
    block = b"x" * (1 << 20)
    sent, resp = 0, b""
    s.setblocking(False)
    try:
        while sent < total:
            try:
                resp += s.recv(65536)
                if resp:
                    break
            except BlockingIOError:
                pass
            piece = (f"{len(block):x}\r\n".encode() + block + b"\r\n") if chunked else block
            try:
                s.setblocking(True)
                s.settimeout(30)
                s.sendall(piece)
                s.setblocking(False)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(block)
        s.setblocking(True)
        s.settimeout(30)
        resp += recv_all(s)
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()
    return parse_response(resp)[0] if resp else 0, sent


st, sent = big_body(False)
check("413 for a 100 MB Content-Length body", st == 413, f"got {st} after {sent} bytes")
st, sent = big_body(True)
check("413 (or refusal) for a 100 MB chunked body, stopped early", st in (413, 0) and sent < 100 * (1 << 20),
      f"got {st} after {sent} bytes")
check("healthy after big bodies", health_ok())

# 4. Slow clients: a stalled header and a stalled body are cut off after --read-timeout.
def slow(partial):
    s = connect(READ_TIMEOUT * 4 + 10)
    s.sendall(partial)
    t0 = time.time()
    data = recv_all(s)
    s.close()
    return time.time() - t0, data


results = {}
threads = [threading.Thread(target=lambda k=k, p=p: results.__setitem__(k, slow(p))) for k, p in [
    ("header", f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthoriz".encode()),
    ("body", f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 1000\r\n\r\n{{\"model\"".encode())]]
for t in threads:
    t.start()
time.sleep(0.5)
check("health answers while slow clients hang", health_ok())
for t in threads:
    t.join()
for k in ("header", "body"):
    dt, data = results[k]
    check(f"slow {k} cut after the read timeout", dt < READ_TIMEOUT * 3 + 2, f"{dt:.1f}s {data[:80]!r}")

# 5. Abrupt disconnects mid-stream (FIN and RST) and mid-wait (non-streaming): slots are freed.
def start_stream(stream=True):
    s = connect(30)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "go"}], "max_tokens": 100000, "stream": stream})
    s.sendall((f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    return s


socks = [start_stream(i % 3 != 2) for i in range(6)]
got = []
for i, s in enumerate(socks):
    if i % 3 != 2:
        got.append(len(s.recv(4096)) > 0)  # streaming: wait for the first bytes
time.sleep(0.5)
for i, s in enumerate(socks):
    if i % 2:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    s.close()
check("streams started before the disconnects", all(got), str(got))
check("slots freed after abrupt disconnects", wait_slots_free(), f"busy={metric('gemrun_slots_busy')}")

# 6. 1000 rapid connect/close (half with RST, some with a partial request line).
t0 = time.time()
for i in range(1000):
    try:
        s = socket.create_connection((HOST, PORT), timeout=5)
        if i % 3 == 0:
            s.sendall(b"GET /heal")
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError as e:
        check("connect during the flood", False, str(e))
        break
check(f"1000 connect/close in {time.time() - t0:.1f}s, then /health", health_ok())

# 7. Header flood and a junk request line: rejected, server alive.
st, _, _ = request("GET", "/health", headers={"X-Big": "a" * 20000}, key=None)
check("oversized header refused", st in (400, 431, 0), f"{st}")
s = connect()
s.sendall(b"\x16\x03\x01\x02\x00junk tls hello\r\n\r\n")
recv_all(s)
s.close()
check("healthy after junk", health_ok())
check("no slot left busy", wait_slots_free(), f"busy={metric('gemrun_slots_busy')}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
