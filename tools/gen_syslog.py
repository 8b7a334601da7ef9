#!/usr/bin/env python3
"""Generates a synthetic syslog of a given size for `gemrun ask` load tests.

Usage: tools/gen_syslog.py OUT [--mb 40] [--seed 1]

Routine traffic from a handful of services, with a planted incident: nginx fails to bind port 443
(line numbers printed on stderr), then the OOM killer ends a java process. Deterministic for a
seed. Only the standard library.
"""
import argparse
import random
import sys

ROUTINE = [
    ("systemd[1]", "Started Session {n} of user admin."),
    ("CRON[{pid}]", "(root) CMD (/usr/lib/sysstat/sa1 1 1)"),
    ("sshd[{pid}]", "Accepted publickey for deploy from 10.0.{a}.{b} port {port} ssh2"),
    ("kernel", "[{t:.6f}] eth0: link up, 1000 Mbps, full duplex"),
    ("dockerd[812]", "time=\"2026-12-02T10:{mm:02d}:{ss:02d}Z\" level=info msg=\"container {hex} healthy\""),
    ("app[2231]", "GET /api/v1/items/{n} 200 {ms}ms"),
    ("postgres[990]", "LOG:  checkpoint complete: wrote {n} buffers"),
]
INCIDENT = [
    ("nginx[4410]", "[emerg] bind() to 0.0.0.0:443 failed (98: Address already in use)"),
    ("systemd[1]", "nginx.service: Main process exited, code=exited, status=1/FAILURE"),
    ("systemd[1]", "nginx.service: Failed with result 'exit-code'."),
    ("kernel", "[{t:.6f}] Out of memory: Killed process 5120 (java) total-vm:8123456kB, anon-rss:6123456kB"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    target = int(a.mb * 1024 * 1024)
    plant_at = {int(target * f) for f in (0.37, 0.371, 0.372, 0.81)}
    written, line_no, sec = 0, 0, 0
    planted = iter(INCIDENT)
    with open(a.out, "w") as f:
        while written < target:
            sec += rnd.randint(0, 2)
            hh, mm, ss = 10 + sec // 3600 % 14, sec // 60 % 60, sec % 60
            ts = f"Dec  2 {hh:02d}:{mm:02d}:{ss:02d}"
            if plant_at and written >= min(plant_at):
                plant_at.discard(min(plant_at))
                tag, msg = next(planted)
                print(f"planted line {line_no + 1}: {tag}", file=sys.stderr)
            else:
                tag, msg = rnd.choice(ROUTINE)
            vals = dict(n=rnd.randint(1, 99999), pid=rnd.randint(1000, 60000), a=rnd.randint(0, 255),
                        b=rnd.randint(1, 254), port=rnd.randint(1024, 65535), t=sec + rnd.random(),
                        mm=mm, ss=ss, hex="%012x" % rnd.getrandbits(48), ms=rnd.randint(1, 900))
            line = f"{ts} web-01 {tag.format(**vals)}: {msg.format(**vals)}\n"
            f.write(line)
            written += len(line)
            line_no += 1
    print(f"{a.out}: {line_no} lines, {written} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
