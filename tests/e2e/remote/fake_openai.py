#!/usr/bin/env python3
"""A recording fake OpenAI endpoint for tests/e2e/remote_test.sh (loopback only).

Stores every request body as DIR/body-N.json (N from 1) and answers by the URL's first path
segment, so one server serves every fault:
  /ok/...            chat.completion whose content lists every <KIND_n> placeholder it received
  /json/...          the same list as a JSON object {"seen": [...]}
  /stream/...        the same answer as an SSE stream
  /slowstream/...    an SSE stream whose chunks come 1 s apart (for ever: the client must time out)
  /500/...           HTTP 500 every time
  /timeout/...       sleeps 30 s before answering
  /badjson/...       HTTP 200 with a body that is not JSON
Usage: fake_openai.py DIR  (prints "port N" on stdout once listening)
"""
import http.server, json, os, re, sys, threading, time

DIR = sys.argv[1]
lock = threading.Lock()
count = [0]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count[0] += 1
            n = count[0]
        with open(os.path.join(DIR, f"body-{n}.json"), "wb") as f:
            f.write(body)
        with open(os.path.join(DIR, f"auth-{n}.txt"), "w") as f:
            f.write(self.headers.get("Authorization", ""))
        mode = self.path.strip("/").split("/")[0]
        text = " ".join(m.decode() for m in dict.fromkeys(re.findall(rb"<[A-Z]+_[0-9]+>", body)))
        answer = "Seen: " + text
        if mode == "json":
            answer = json.dumps({"seen": text.split(" ")})
        if mode == "500":
            return self.reply(500, b'{"error":"boom"}')
        if mode == "timeout":
            time.sleep(30)
            return self.reply(200, b"{}")
        if mode == "badjson":
            return self.reply(200, b"this is <html> not json")
        if mode in ("stream", "slowstream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for i, word in enumerate(answer.split(" ") if mode == "stream" else iter(lambda: "x", None)):
                    chunk = {"choices": [{"delta": {"content": (" " if i else "") + word}, "finish_reason": None}]}
                    self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                    self.wfile.flush()
                    if mode == "slowstream":
                        time.sleep(1)
                self.wfile.write(b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        resp = {"id": "x", "object": "chat.completion", "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(body) // 4, "completion_tokens": len(answer) // 4}}
        self.reply(200, json.dumps(resp).encode())

    def reply(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print("port", srv.server_address[1], flush=True)
srv.serve_forever()
