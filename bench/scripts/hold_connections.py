#!/usr/bin/python3
"""Opens N connections to 127.0.0.1:PORT, sends each the given request (once),
reads what comes back for a moment, then holds them open until killed (or
exits at once with --exit).

    hold_connections.py PORT N REQUEST [--exit]

Prints "ready" when every connection is open and has sent its request, so
that a caller can measure the server's memory with them in place.
"""
import selectors
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
request = sys.argv[3].encode().decode("unicode_escape").encode("latin1")
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if request:
        s.sendall(request)
    s.setblocking(False)
    socks.append(s)
# Drain the first bytes of every response (keep-alive: the whole response;
# a stream: its head and first events), so that the server's state is the
# steady one.
sel = selectors.DefaultSelector()
for s in socks:
    sel.register(s, selectors.EVENT_READ)
deadline = time.time() + 3
while time.time() < deadline:
    for key, _ in sel.select(timeout=0.2):
        try:
            key.fileobj.recv(65536)
        except OSError:
            pass
print("ready", flush=True)
if "--exit" not in sys.argv[4:]:
    while True:
        time.sleep(3600)
