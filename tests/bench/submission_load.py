#!/usr/bin/env python3
"""Pipelines COUNT messages of SIZE bytes into an SMTP server in one session (MAIL, RCPT and DATA
in one write per message, as RFC 2920 allows) and prints messages accepted per second and the
latency from the end of each message to its 250, p50 and p99. Not a test: it prints numbers.

Usage: submission_load.py HOST PORT [--auth USER PASSWORD] [--count 100] [--size 10240]
       [--from ADDR] [--to ADDR]
"""
import argparse, base64, socket, statistics, time

p = argparse.ArgumentParser()
p.add_argument("host"); p.add_argument("port", type=int)
p.add_argument("--auth", nargs=2); p.add_argument("--count", type=int, default=100)
p.add_argument("--size", type=int, default=10240)
p.add_argument("--from", dest="sender", default="student@popsend.test")
p.add_argument("--to", default="teacher@example.net")
a = p.parse_args()

s = socket.create_connection((a.host, a.port))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline().decode(errors="replace")
        if not line:
            raise SystemExit("connection closed: " + "".join(lines))
        lines.append(line)
        if len(line) < 4 or line[3] != "-":
            return "".join(lines)
def send(text):
    s.sendall(text.encode() if isinstance(text, str) else text)

reply()
send("EHLO bench.local\r\n"); reply()
if a.auth:
    token = base64.b64encode(f"\0{a.auth[0]}\0{a.auth[1]}".encode()).decode()
    send(f"AUTH PLAIN {token}\r\n")
    r = reply()
    assert r.startswith("235"), r
line = ("x" * 76 + "\r\n").encode()
body = b"".join([line] * max(1, a.size // len(line)))
latencies, accepted = [], 0
start = time.perf_counter()
for i in range(a.count):
    send(f"MAIL FROM:<{a.sender}>\r\nRCPT TO:<{a.to}>\r\nDATA\r\n")
    for _ in range(3):
        r = reply()
    assert r.startswith("354"), r
    send(f"Subject: bench {i}\r\nTo: <{a.to}>\r\n\r\n".encode() + body + b".\r\n")
    t = time.perf_counter()
    r = reply()
    latencies.append((time.perf_counter() - t) * 1000)
    accepted += r.startswith("250")
total = time.perf_counter() - start
send("QUIT\r\n")
latencies.sort()
p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
print(f"accepted {accepted}/{a.count}  {accepted / total:7.1f} msg/s  250 after the end of data: p50 {statistics.median(latencies):6.2f} ms  p99 {p99:6.2f} ms")
