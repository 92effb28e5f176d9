#!/usr/bin/python3
"""An HTTP/2 client for early_hints_test.cpp, on python3-h2: one GET, and
the response's HEADERS frames in the order they came.

  early_hints_h2.py PORT PATH [--tls] [--gate FIFO]

With --gate, the fifo is opened and written to (which lets the test
plugin's handler go on) once a 103 has arrived, and only then: a 103 that
the server held back with the final response never comes, and the client
times out. Prints one JSON object:

  {"events": [{"status": "103", "link": "..."}, ..., {"status": "200"}],
   "body": "...", "gate": "opened" | "not reached" | "<error>",
   "error": "..." (on a timeout or a reset)}
"""
import json
import os
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events


def main():
    port = int(sys.argv[1])
    path = sys.argv[2]
    tls = "--tls" in sys.argv
    gate = None
    if "--gate" in sys.argv:
        gate = sys.argv[sys.argv.index("--gate") + 1]
    out = {"events": [], "body": "", "gate": "not reached"}

    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True,
                                         header_encoding="utf-8"))
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    conn.send_headers(stream, [
        (":method", "GET"),
        (":scheme", "https" if tls else "http"),
        (":authority", "localhost"),
        (":path", path),
    ], end_stream=True)
    sock.sendall(conn.data_to_send())

    body = b""
    done = False
    try:
        while not done:
            data = sock.recv(65536)
            if not data:
                out["error"] = "connection closed"
                break
            for event in conn.receive_data(data):
                if isinstance(event, (h2.events.InformationalResponseReceived,
                                      h2.events.ResponseReceived)):
                    headers = dict(event.headers)
                    entry = {"status": headers.get(":status", "")}
                    if "link" in headers:
                        entry["link"] = headers["link"]
                    out["events"].append(entry)
                    if (gate and entry["status"] == "103"
                            and out["gate"] == "not reached"):
                        try:
                            fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
                            os.write(fd, b"x")
                            os.close(fd)
                            out["gate"] = "opened"
                        except OSError as e:
                            out["gate"] = str(e)
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                    conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    done = True
                elif isinstance(event, h2.events.StreamReset):
                    out["error"] = "reset %d" % event.error_code
                    done = True
            pending = conn.data_to_send()
            if pending:
                sock.sendall(pending)
    except socket.timeout:
        out["error"] = "timeout"
    out["body"] = body.decode("utf-8", "replace")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
