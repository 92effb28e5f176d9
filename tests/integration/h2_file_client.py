#!/usr/bin/python3
"""HTTP/2 client for the file-body tests (file_body_test.cpp), on
python3-h2. Prints one JSON object on stdout.

  h2_file_client.py PORT TLS(0|1) PATH rss PID
      GET PATH with a small stream window; after the first DATA frame,
      reads PID's VmRSS (kB); then reads the rest. {"status", "length",
      "received", "rss_kb", "reset"}
  h2_file_client.py PORT TLS(0|1) PATH shrink FILE NEWSIZE
      GET PATH with a small stream window; after the response's HEADERS,
      truncates FILE to NEWSIZE bytes, then reads what comes.
      {"status", "length", "received", "reset"}
"""
import json
import os
import socket
import ssl
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings

WINDOW = 65535


def vm_rss_kb(pid):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    port, tls, path, scenario = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    # A small stream window: the server can send no more than this until
    # we say so (our reads are the backpressure).
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
    sock.sendall(conn.data_to_send())
    authority = "localhost" if tls else "127.0.0.1"
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "https" if tls else "http"),
                            (":authority", authority), (":path", path)], end_stream=True)
    sock.sendall(conn.data_to_send())
    out = {"status": None, "length": None, "received": 0, "reset": None}
    done = False
    first_data = True
    while not done:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                for k, v in ev.headers:
                    if k == ":status":
                        out["status"] = int(v)
                    elif k == "content-length":
                        out["length"] = int(v)
                if scenario == "shrink":
                    with open(sys.argv[5], "r+b") as f:
                        f.truncate(int(sys.argv[6]))
            elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                out["received"] += len(ev.data)
                if scenario == "rss" and first_data:
                    first_data = False
                    out["rss_kb"] = vm_rss_kb(sys.argv[5])
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                done = True
            elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                out["reset"] = int(ev.error_code)
                done = True
            elif isinstance(ev, h2.events.ConnectionTerminated):
                done = True
        pending = conn.data_to_send()
        if pending:
            sock.sendall(pending)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
