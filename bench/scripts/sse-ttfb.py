#!/usr/bin/python3
"""Time to first byte of an SSE stream, with a raw socket.

    bench/scripts/sse-ttfb.py PORT [PATH=/sse/events?count=1] [N=1000]

For each of N fresh connections: connect, send the GET, and time until the
first byte of the response head and until the first event's bytes
(`data:`) arrive. Prints p50/p90/p99/max of both, in microseconds. The
server must run already (for example `pounce-host --plugin /sse=libsse.so`).
"""
import socket
import sys
import time


def one(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    start = time.perf_counter_ns()
    s.sendall(request)
    got = b""
    head_ns = event_ns = None
    while event_ns is None:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before the first event")
        now = time.perf_counter_ns()
        if head_ns is None:
            head_ns = now - start
        got += chunk
        if b"data:" in got:
            event_ns = now - start
    if not got.startswith(b"HTTP/1.1 200"):
        raise SystemExit("unexpected response: " + got[:80].decode(errors="replace"))
    s.close()
    return head_ns, event_ns


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    port = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else "/sse/events?count=1"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    heads, events = [], []
    for _ in range(n):
        h, e = one(port, path)
        heads.append(h / 1000)
        events.append(e / 1000)
    for name, v in (("response head", heads), ("first event", events)):
        print(f"{name}: p50 {percentile(v, .5):.0f} us  p90 {percentile(v, .9):.0f} us"
              f"  p99 {percentile(v, .99):.0f} us  max {max(v):.0f} us  (n={n})")


main()
