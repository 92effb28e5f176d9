#!/usr/bin/python3
"""Frame-level HTTP/2 client for the integration tests (issue 13), on
python3-h2. Each scenario prints one JSON object on stdout; the C++ test
(http2_test.cpp) asserts on it.

  h2_client.py PORT SCENARIO [ARGS...]

Outbound header validation is off, so that a scenario can send what a
well-behaved client never would (the server must refuse it).
"""
import json
import os
import signal
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame


class Conn:
    def __init__(self, port, tls=False, window=None, validate=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        cfg = h2.config.H2Configuration(
            client_side=True,
            header_encoding="utf-8",
            validate_outbound_headers=validate,
            normalize_outbound_headers=False,
            validate_inbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.initiate_connection()
        if window is not None:
            self.h2.update_settings(
                {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.streams = {}
        self.goaway = None
        self.settings = {}
        self.closed = False
        self.auto_ack = True  # acknowledge received DATA (window updates)

    def flush(self):
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def stream(self, sid):
        return self.streams.setdefault(sid, {
            "status": None, "headers": [], "body": b"", "trailers": [],
            "reset": None, "ended": False})

    def request(self, method, path, headers=(), body=None, trailers=None,
                authority="localhost", end=True):
        sid = self.h2.get_next_available_stream_id()
        hdrs = [(":method", method), (":scheme", "http"),
                (":authority", authority), (":path", path)] + list(headers)
        last = end and body is None and trailers is None
        self.h2.send_headers(sid, hdrs, end_stream=last)
        self.flush()
        if body is not None:
            self.send_body(sid, body, end=end and trailers is None)
        if trailers is not None and not self.done(sid):
            self.h2.send_headers(sid, list(trailers), end_stream=True)
        self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        """Sends `body` as the windows allow; stops when the stream ends
        (the server may answer before the body is complete)."""
        while True:
            if self.done(sid) or self.closed:
                return
            window = min(self.h2.local_flow_control_window(sid),
                         self.h2.max_outbound_frame_size)
            if window <= 0 and body:
                self.pump(lambda: self.done(sid) or
                          self.h2.local_flow_control_window(sid) > 0,
                          timeout=10)
                continue
            chunk, body = body[:window], body[window:]
            try:
                self.h2.send_data(sid, chunk, end_stream=end and not body)
            except h2.exceptions.StreamClosedError:
                return
            self.flush()
            if not body:
                return

    def raw_headers(self, headers, end=True):
        sid = self.h2.get_next_available_stream_id()
        self.h2.send_headers(sid, list(headers), end_stream=end)
        self.flush()
        return sid

    def pump(self, until, timeout=20):
        """Reads frames until until() is true, the peer closes, or timeout."""
        deadline = time.time() + timeout
        while not until():
            if self.closed or time.time() > deadline:
                return False
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, ssl.SSLError, OSError):
                self.closed = True
                return until()
            if not data:
                self.closed = True
                return until()
            for ev in self.h2.receive_data(self.filter_goaway(data)):
                self.on_event(ev)
            self.flush()
        return True

    def filter_goaway(self, data):
        """python3-h2 closes its connection state at any GOAWAY, and then
        refuses the frames of the streams a graceful GOAWAY lets finish
        (RFC 9113 §6.8): GOAWAY frames are taken out here and recorded."""
        if not hasattr(self, "_raw"):
            self._raw = b""
            self._preamble = True
        self._raw += data
        out = b""
        while len(self._raw) >= 9:
            frame, length = hyperframe.frame.Frame.parse_frame_header(
                memoryview(self._raw[:9]))
            if len(self._raw) < 9 + length:
                break
            chunk = self._raw[:9 + length]
            self._raw = self._raw[9 + length:]
            if isinstance(frame, hyperframe.frame.GoAwayFrame):
                frame.parse_body(memoryview(chunk[9:]))
                self.goaway = {"error": frame.error_code,
                               "last_stream_id": frame.last_stream_id}
                continue
            out += chunk
        return out

    def on_event(self, ev):
        if isinstance(ev, h2.events.ResponseReceived):
            s = self.stream(ev.stream_id)
            s["headers"] = [(k, v) for k, v in ev.headers]
            s["status"] = dict(ev.headers).get(":status")
        elif isinstance(ev, h2.events.DataReceived):
            s = self.stream(ev.stream_id)
            s["body"] += ev.data
            if self.auto_ack and ev.flow_controlled_length:
                self.h2.acknowledge_received_data(
                    ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            self.stream(ev.stream_id)["trailers"] = [
                (k, v) for k, v in ev.headers]
        elif isinstance(ev, h2.events.StreamEnded):
            self.stream(ev.stream_id)["ended"] = True
        elif isinstance(ev, h2.events.StreamReset):
            self.stream(ev.stream_id)["reset"] = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = {"error": int(ev.error_code),
                           "last_stream_id": ev.last_stream_id}
        elif isinstance(ev, h2.events.PingAckReceived):
            if ev.ping_data == b"pounce!!":
                self.ping_acked = True
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            for k, v in ev.changed_settings.items():
                self.settings[int(k)] = v.new_value

    def done(self, sid):
        s = self.stream(sid)
        return s["ended"] or s["reset"] is not None

    def result(self, sid):
        s = self.stream(sid)
        return {
            "status": s["status"],
            "headers": s["headers"],
            "body": s["body"].decode("latin-1"),
            "trailers": s["trailers"],
            "reset": s["reset"],
            "ended": s["ended"],
        }


def parse_headers(text):
    """'a: 1\\nb: 2' -> [("a", "1"), ("b", "2")]"""
    out = []
    for line in text.split("\n"):
        if line:
            k, v = line.split(": ", 1)
            out.append((k, v))
    return out


def scenario_request(port, method, path, headers="", body="", trailers="",
                     tls="0"):
    """One request; body "@N" is N bytes of 'b'."""
    c = Conn(port, tls=tls == "1")
    data = None
    if body.startswith("@"):
        data = b"b" * int(body[1:])
    elif body:
        data = body.encode()
    sid = c.request(method, path, parse_headers(headers), data,
                    parse_headers(trailers) if trailers else None)
    c.pump(lambda: c.done(sid))
    return c.result(sid)


# A request no client may send (RFC 9113 §8.2, §8.3), and a well-formed
# control: each is answered with RST_STREAM (PROTOCOL_ERROR) or a response.
MALFORMED = {
    "path-not-slash": [(":method", "GET"), (":scheme", "http"),
                       (":authority", "localhost"), (":path", "view")],
    "path-absolute": [(":method", "GET"), (":scheme", "http"),
                      (":authority", "localhost"),
                      (":path", "http://localhost/view")],
    "no-method": [(":scheme", "http"), (":authority", "localhost"),
                  (":path", "/view")],
    "no-path": [(":method", "GET"), (":scheme", "http"),
                (":authority", "localhost")],
    "unknown-pseudo": [(":method", "GET"), (":scheme", "http"),
                       (":authority", "localhost"), (":path", "/view"),
                       (":foo", "x")],
    "pseudo-after-regular": [(":method", "GET"), (":scheme", "http"),
                             ("accept", "*/*"), (":authority", "localhost"),
                             (":path", "/view")],
    "upper-case-name": [(":method", "GET"), (":scheme", "http"),
                        (":authority", "localhost"), (":path", "/view"),
                        ("Accept", "*/*")],
    "connection-header": [(":method", "GET"), (":scheme", "http"),
                          (":authority", "localhost"), (":path", "/view"),
                          ("connection", "keep-alive")],
    "keep-alive-header": [(":method", "GET"), (":scheme", "http"),
                          (":authority", "localhost"), (":path", "/view"),
                          ("keep-alive", "timeout=5")],
    "upgrade-header": [(":method", "GET"), (":scheme", "http"),
                       (":authority", "localhost"), (":path", "/view"),
                       ("upgrade", "websocket")],
    "proxy-connection-header": [(":method", "GET"), (":scheme", "http"),
                                (":authority", "localhost"),
                                (":path", "/view"),
                                ("proxy-connection", "keep-alive")],
    "transfer-encoding": [(":method", "POST"), (":scheme", "http"),
                          (":authority", "localhost"), (":path", "/view"),
                          ("transfer-encoding", "chunked")],
    "te-gzip": [(":method", "GET"), (":scheme", "http"),
                (":authority", "localhost"), (":path", "/view"),
                ("te", "gzip")],
    "te-trailers": [(":method", "GET"), (":scheme", "http"),
                    (":authority", "localhost"), (":path", "/view"),
                    ("te", "trailers")],
    "host-mismatch": [(":method", "GET"), (":scheme", "http"),
                      (":authority", "localhost"), (":path", "/view"),
                      ("host", "elsewhere.test")],
    "host-match": [(":method", "GET"), (":scheme", "http"),
                   (":authority", "localhost"), (":path", "/view"),
                   ("host", "LOCALHOST")],
    "crlf-in-value": [(":method", "GET"), (":scheme", "http"),
                      (":authority", "localhost"), (":path", "/view"),
                      ("x-a", "1\r\nx-b: 2")],
    "nul-in-value": [(":method", "GET"), (":scheme", "http"),
                     (":authority", "localhost"), (":path", "/view"),
                     ("x-a", "1\x002")],
    "plain-connect": [(":method", "CONNECT"), (":authority", "localhost:80")],
    "ok": [(":method", "GET"), (":scheme", "http"),
           (":authority", "localhost"), (":path", "/view")],
}


def scenario_malformed(port, name, prefix=""):
    c = Conn(port)
    hdrs = [(k, prefix + v) if k == ":path" and v.startswith("/") else (k, v)
            for k, v in MALFORMED[name]]
    sid = c.raw_headers(hdrs)
    c.pump(lambda: c.done(sid) or c.goaway is not None)
    # The connection survives a stream error: one more request on it.
    after = None
    if c.goaway is None:
        sid2 = c.request("GET", prefix + "/view")
        c.pump(lambda: c.done(sid2))
        after = c.result(sid2)["status"]
    r = c.result(sid)
    r["after"] = after
    r["goaway"] = c.goaway
    return r


def scenario_content_length_mismatch(port, path):
    """content-length says 10, DATA carries 5: a stream error (§8.1.1)."""
    c = Conn(port)
    sid = c.raw_headers([(":method", "POST"), (":scheme", "http"),
                         (":authority", "localhost"), (":path", path),
                         ("content-length", "10")], end=False)
    c.h2.send_data(sid, b"12345", end_stream=True)
    c.flush()
    c.pump(lambda: c.done(sid))
    return c.result(sid)


def scenario_sequence(port, *paths):
    """Requests one after the other on one connection ("POST:@N:/path" sends
    a body of N bytes); the statuses, and whether the connection stayed."""
    c = Conn(port)
    statuses = []
    for p in paths:
        if p.startswith("POST:"):
            _, size, path = p.split(":", 2)
            sid = c.request("POST", path, [], b"p" * int(size[1:]))
        else:
            sid = c.request("GET", p)
        c.pump(lambda: c.done(sid))
        statuses.append(c.result(sid)["status"])
    return {"statuses": statuses, "goaway": c.goaway}


def scenario_repeat(port, path, count, headers=""):
    """The same GET `count` times, one after the other on one connection:
    each one's status, X-Request-ID and body. The host reuses a closed
    stream's memory for the next: each must still be a new request."""
    c = Conn(port)
    out = []
    for _ in range(int(count)):
        sid = c.request("GET", path, parse_headers(headers))
        c.pump(lambda: c.done(sid))
        r = c.result(sid)
        out.append({"status": r["status"],
                    "request_id": dict(r["headers"]).get("x-request-id"),
                    "body": r["body"]})
    return {"responses": out, "goaway": c.goaway}


def scenario_echo_concurrent(port, path, count, size):
    """`count` POSTs of `size` distinct random bytes each, all sent before
    any answer is read, so that the answers' DATA frames interleave: the
    streams whose answer is not exactly their own request's body."""
    c = Conn(port)
    bodies = {}
    for _ in range(int(count)):
        body = os.urandom(int(size))
        sid = c.request("POST", path,
                        [("content-type", "application/octet-stream")], body)
        bodies[sid] = body
    c.pump(lambda: all(c.done(sid) for sid in bodies))
    wrong = [sid for sid, b in bodies.items()
             if c.stream(sid)["status"] != "200" or
             c.stream(sid)["body"] != b]
    return {"streams": len(bodies), "wrong": wrong, "goaway": c.goaway}


def scenario_concurrent(port, slow, fast):
    """Two streams at once on one connection: which one completes first."""
    c = Conn(port)
    order = []
    s1 = c.request("GET", slow)
    s2 = c.request("GET", fast)
    seen = set()

    def check():
        for sid in (s1, s2):
            if sid not in seen and c.done(sid):
                seen.add(sid)
                order.append("slow" if sid == s1 else "fast")
        return len(seen) == 2
    c.pump(check)
    return {"order": order, "slow": c.result(s1)["status"],
            "fast": c.result(s2)["status"]}


def scenario_preface_split(port, path):
    """The client preface in two TCP segments, then a request."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    data = conn.data_to_send()
    sock.sendall(data[:10])
    time.sleep(0.2)  # two segments, two reads (not a synchronisation)
    sock.sendall(data[10:])
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":scheme", "http"),
                            (":authority", "localhost"), (":path", path)],
                      end_stream=True)
    sock.sendall(conn.data_to_send())
    status, body, ended = None, b"", False
    deadline = time.time() + 20
    while not ended and time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        for ev in conn.receive_data(chunk):
            if isinstance(ev, h2.events.ResponseReceived):
                status = dict(ev.headers).get(":status")
            elif isinstance(ev, h2.events.DataReceived):
                body += ev.data
            elif isinstance(ev, h2.events.StreamEnded):
                ended = True
        sock.sendall(conn.data_to_send())
    return {"status": status, "body": body.decode("latin-1")}


def scenario_flow(port, path, expect_total):
    """Flow control as backpressure: the client does not open its windows
    until the server has stopped sending for 0.5 s (its windows are spent),
    then reads the rest. Reports the bytes at the stall and in all."""
    c = Conn(port)
    c.auto_ack = False
    sid = c.request("GET", path)
    stalled_at = None
    # Until the windows (65,535 bytes each) are spent and nothing more
    # comes: a negative check, so it has to be a quiet period.
    while True:
        before = len(c.stream(sid)["body"])
        c.pump(lambda: len(c.stream(sid)["body"]) > before or c.done(sid),
               timeout=0.5)
        got = len(c.stream(sid)["body"])
        if got == before or c.done(sid):
            stalled_at = got
            break
    # Open the windows for everything received so far, then read on.
    if stalled_at:
        c.h2.acknowledge_received_data(stalled_at, sid)
        c.flush()
    c.auto_ack = True
    c.pump(lambda: c.done(sid), timeout=30)
    r = c.result(sid)
    return {"stalled_at": stalled_at, "total": len(r["body"]),
            "ended": r["ended"], "reset": r["reset"],
            "expect": int(expect_total)}


def scenario_never_read(port, path):
    """The client never opens its windows: what the server does with a
    stream that keeps writing (--stream-max-buffer)."""
    c = Conn(port)
    c.auto_ack = False
    sid = c.request("GET", path)
    c.pump(lambda: c.done(sid), timeout=20)
    r = c.result(sid)
    return {"received": len(r["body"]), "reset": r["reset"],
            "ended": r["ended"]}


def scenario_mixed(port, *paths):
    """Streams opened at once on one connection; each stream's status and
    body, and the order in which they completed."""
    c = Conn(port)
    sids = [c.request("GET", p) for p in paths]
    order = []

    def check():
        for i, sid in enumerate(sids):
            if i not in order and c.done(sid):
                order.append(i)
        return len(order) == len(sids)
    c.pump(check, timeout=30)
    return {"order": order,
            "statuses": [c.result(sid)["status"] for sid in sids],
            "bodies": [c.result(sid)["body"] for sid in sids]}


def scenario_reset_after_first_chunk(port, path):
    """The client resets a stream once its first DATA arrived; then one more
    request on the connection, which lives on."""
    c = Conn(port)
    sid = c.request("GET", path)
    c.pump(lambda: len(c.stream(sid)["body"]) > 0 or c.done(sid))
    c.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    sid2 = c.request("GET", "/view")
    c.pump(lambda: c.done(sid2))
    return {"first": c.result(sid)["body"], "after": c.result(sid2)["status"]}


def ws_frame(opcode, payload, rsv1=False, fin=True):
    """A masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_parse(buf):
    """Server frames (unmasked) from buf: [(fin, rsv1, opcode, payload)],
    and the bytes left over."""
    frames = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = int.from_bytes(buf[2:4], "big")
            at = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = int.from_bytes(buf[2:10], "big")
            at = 10
        if len(buf) < at + n:
            break
        frames.append((bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F,
                       buf[at:at + n]))
        buf = buf[at + n:]
    return frames, buf


def scenario_websocket(port, path, *messages):
    """RFC 8441: an extended CONNECT, then messages ("z:text" is sent
    compressed), then our close 1000. Reports the 200's headers, every
    message the server sent (decompressed), its close code, and whether
    the stream ended cleanly."""
    import zlib
    c = Conn(port)
    c.pump(lambda: 8 in c.settings)  # SETTINGS_ENABLE_CONNECT_PROTOCOL
    out = {"enable_connect_protocol": c.settings.get(8)}
    sid = c.raw_headers([
        (":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", "http"), (":path", path), (":authority", "localhost"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-extensions",
         "permessage-deflate; client_max_window_bits")], end=False)
    c.pump(lambda: c.stream(sid)["status"] is not None or c.done(sid))
    out["status"] = c.stream(sid)["status"]
    out["headers"] = c.stream(sid)["headers"]
    if out["status"] != "200":
        out["body"] = c.stream(sid)["body"].decode("latin-1")
        return out
    inflater = zlib.decompressobj(-15)
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    received = []
    close_code = None
    close_sent = False
    pending = b""
    consumed = 0

    def take():
        nonlocal pending, consumed, close_code, close_sent
        body = c.stream(sid)["body"]
        pending += body[consumed:]
        consumed = len(body)
        frames, pending = ws_parse(pending)
        for fin, rsv1, op, payload in frames:
            if op == 8:
                close_code = int.from_bytes(payload[:2], "big")
                if not close_sent:  # the server's close: answer it
                    close_sent = True
                    c.h2.send_data(sid, ws_frame(8, payload[:2]))
                    c.flush()
            elif op in (1, 2):
                if rsv1:
                    payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
                received.append(payload.decode("utf-8", "replace"))
    for m in messages:
        if m.startswith("z:"):
            data = deflater.compress(m[2:].encode())
            data += deflater.flush(zlib.Z_SYNC_FLUSH)
            frame = ws_frame(1, data[:-4], rsv1=True)
        else:
            frame = ws_frame(1, m.encode())
        want = len(received) + 1
        c.h2.send_data(sid, frame)
        c.flush()
        c.pump(lambda: (take() or True) and
               (len(received) >= want or close_code is not None or
                c.done(sid)), timeout=10)
        if close_code is not None or c.done(sid):
            break
    if not close_sent and not c.done(sid):
        close_sent = True
        c.h2.send_data(sid, ws_frame(8, (1000).to_bytes(2, "big") + b"done"))
        c.flush()
    c.pump(lambda: (take() or True) and (close_code is not None or
                                          c.done(sid)), timeout=10)
    # The server ends its side after its close frame; then ours.
    c.pump(lambda: c.done(sid), timeout=10)
    if not c.done(sid) or c.stream(sid)["reset"] is None:
        try:
            c.h2.end_stream(sid)
            c.flush()
        except h2.exceptions.StreamClosedError:
            pass
    out.update({"received": received, "close_code": close_code,
                "ended": c.stream(sid)["ended"],
                "reset": c.stream(sid)["reset"]})
    # The connection lives on.
    sid2 = c.request("GET", "/view")
    c.pump(lambda: c.done(sid2))
    out["after"] = c.result(sid2)["status"]
    return out


def scenario_websocket_refused(port, path, version="13"):
    """An extended CONNECT the server refuses: its status and headers."""
    c = Conn(port)
    c.pump(lambda: 8 in c.settings)
    hdrs = [(":method", "CONNECT"), (":protocol", "websocket"),
            (":scheme", "http"), (":path", path), (":authority", "localhost")]
    if version:
        hdrs.append(("sec-websocket-version", version))
    sid = c.raw_headers(hdrs, end=False)
    c.pump(lambda: c.done(sid))
    return c.result(sid)


def scenario_websocket_reset(port, path):
    """The client resets the WebSocket's stream after the 200."""
    c = Conn(port)
    c.pump(lambda: 8 in c.settings)
    sid = c.raw_headers([
        (":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", "http"), (":path", path), (":authority", "localhost"),
        ("sec-websocket-version", "13")], end=False)
    c.pump(lambda: c.stream(sid)["status"] is not None or c.done(sid))
    status = c.stream(sid)["status"]
    c.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    c.flush()
    sid2 = c.request("GET", "/view")
    c.pump(lambda: c.done(sid2))
    return {"status": status, "after": c.result(sid2)["status"]}


def scenario_drain(port, path, pid="0", sig="TERM", after=""):
    """A stream in flight while the server drains: with a pid, the client
    signals it once the stream's first DATA arrived (else the test does).
    Reports the stream's outcome, the GOAWAY, whether the server then
    closed the connection, and, with `after`, a request sent on the same
    connection once the stream ended (a reload keeps it open)."""
    c = Conn(port)
    sid = c.request("GET", path)
    if pid != "0":
        c.pump(lambda: len(c.stream(sid)["body"]) > 0 or c.done(sid))
        os.kill(int(pid), getattr(signal, "SIG" + sig))
    c.pump(lambda: c.done(sid), timeout=30)
    out = c.result(sid)
    del out["headers"]
    if after:
        sid2 = c.request("GET", after)
        c.pump(lambda: c.done(sid2), timeout=10)
        out["after"] = c.result(sid2)["status"]
        out["after_body"] = c.result(sid2)["body"]
    else:
        c.pump(lambda: c.closed, timeout=15)
    out["goaway"] = c.goaway
    out["closed"] = c.closed
    return out


def scenario_websocket_drain(port, path, pid):
    """A WebSocket over HTTP/2 open when the server drains: the client
    signals once the 200 arrived, answers the server's close, and reports
    its code, the GOAWAY and whether the connection then closed."""
    c = Conn(port)
    c.pump(lambda: 8 in c.settings)
    sid = c.raw_headers([
        (":method", "CONNECT"), (":protocol", "websocket"),
        (":scheme", "http"), (":path", path), (":authority", "localhost"),
        ("sec-websocket-version", "13")], end=False)
    c.pump(lambda: c.stream(sid)["status"] is not None or c.done(sid))
    os.kill(int(pid), signal.SIGTERM)
    code = None

    def close_seen():
        nonlocal code
        frames, _ = ws_parse(c.stream(sid)["body"])
        for fin, rsv1, op, payload in frames:
            if op == 8:
                code = int.from_bytes(payload[:2], "big")
        return code is not None or c.done(sid)
    c.pump(close_seen, timeout=20)
    if code is not None and not c.done(sid):
        c.h2.send_data(sid, ws_frame(8, code.to_bytes(2, "big")),
                       end_stream=True)
        c.flush()
    c.pump(lambda: c.closed, timeout=20)
    return {"status": c.stream(sid)["status"], "close_code": code,
            "goaway": c.goaway, "closed": c.closed}


def scenario_unfinished_header_block(port):
    """A HEADERS frame without END_HEADERS, and no CONTINUATION after it:
    how long until the server gives up on the connection."""
    import hpack
    c = Conn(port)
    # The server's SETTINGS first (python3-h2 acknowledges them): after the
    # HEADERS frame the client must send nothing but CONTINUATION.
    c.pump(lambda: 3 in c.settings)
    c.flush = lambda: None
    block = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"),
                                    (":authority", "localhost"),
                                    (":path", "/view")])
    f = hyperframe.frame.HeadersFrame(1)
    f.data = block
    f.flags.add("END_STREAM")  # no END_HEADERS
    c.sock.sendall(f.serialize())
    started = time.time()
    c.pump(lambda: c.closed or c.goaway is not None, timeout=30)
    c.pump(lambda: c.closed, timeout=10)
    return {"goaway": c.goaway, "closed": c.closed,
            "seconds": round(time.time() - started, 1)}


def scenario_rapid_reset(port, count="3000"):
    """CVE-2023-44487: HEADERS then RST_STREAM, as fast as the socket takes
    them. Reports the GOAWAY and how many streams were sent."""
    c = Conn(port)
    c.pump(lambda: 3 in c.settings)
    sent = 0
    hdrs = [(":method", "GET"), (":scheme", "http"),
            (":authority", "localhost"), (":path", "/view")]
    try:
        for _ in range(int(count)):
            sid = c.h2.get_next_available_stream_id()
            c.h2.send_headers(sid, hdrs, end_stream=True)
            c.h2.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            sent += 1
            if sent % 100 == 0:
                c.flush()
        c.flush()
    except (BrokenPipeError, ConnectionResetError, h2.exceptions.ProtocolError):
        pass
    c.pump(lambda: c.goaway is not None or c.closed, timeout=10)
    return {"sent": sent, "goaway": c.goaway}


def scenario_continuation_flood(port, count="10000"):
    """CONTINUATION frames without END_HEADERS, endlessly (2024)."""
    import hpack
    c = Conn(port)
    c.pump(lambda: 3 in c.settings)
    c.flush = lambda: None
    enc = hpack.Encoder()
    f = hyperframe.frame.HeadersFrame(1)
    f.data = enc.encode([(":method", "GET"), (":scheme", "http"),
                         (":authority", "localhost"), (":path", "/view")])
    f.flags.add("END_STREAM")
    sent = 0
    try:
        c.sock.sendall(f.serialize())
        for i in range(int(count)):
            cf = hyperframe.frame.ContinuationFrame(1)
            cf.data = enc.encode([("x-flood-%d" % i, "y" * 100)])
            c.sock.sendall(cf.serialize())
            sent += 1
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    c.pump(lambda: c.goaway is not None or c.closed, timeout=10)
    return {"sent": sent, "goaway": c.goaway, "closed": c.closed}


def settled(port):
    """A connection whose SETTINGS exchange is done (ours acknowledged)."""
    c = Conn(port)
    c.pump(lambda: 3 in c.settings)
    c.pump(lambda: False, timeout=0.2)  # the server's ACK of ours
    return c


def after_on(c):
    """A request on `c` after an attack: its status, or None."""
    if c.closed or c.goaway is not None:
        return None
    try:
        sid = c.request("GET", "/view")
    except (BrokenPipeError, ConnectionResetError, OSError,
            h2.exceptions.ProtocolError):
        return None
    c.pump(lambda: c.done(sid), timeout=10)
    return c.stream(sid)["status"]


def scenario_frame_flood(port, kind, count):
    """`count` frames of one kind that carry no request (issue 13 §3):
    settings, ping, empty-data, priority. Reports the GOAWAY, and whether
    the connection still serves a request when there was none."""
    c = settled(port)
    frames = []
    sid = None
    if kind == "empty-data":
        sid = c.request("POST", "/view", end=False)
    for i in range(int(count)):
        if kind == "settings":
            frames.append(hyperframe.frame.SettingsFrame(0, settings={
                h2.settings.SettingCodes.ENABLE_PUSH: 0}).serialize())
        elif kind == "ping":
            frames.append(hyperframe.frame.PingFrame(
                0, (i % 256).to_bytes(8, "big")).serialize())
        elif kind == "empty-data":
            frames.append(hyperframe.frame.DataFrame(sid).serialize())
        elif kind == "priority":
            f = hyperframe.frame.PriorityFrame(1001 + 2 * i)
            f.depends_on = 0
            f.stream_weight = 15
            frames.append(f.serialize())
    try:
        c.sock.sendall(b"".join(frames))
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    # A PING after the flood: its ACK says the server read it all.
    c.ping_acked = False
    try:
        c.h2.ping(b"pounce!!")
        c.flush()
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    c.pump(lambda: c.ping_acked or c.goaway is not None or c.closed,
           timeout=10)
    status = after_on(c)
    return {"sent": int(count), "goaway": c.goaway, "after": status}


class RawConn:
    """A client that writes frames as given and reads them without a state
    machine (python3-h2 refuses what these scenarios provoke: answers on
    streams it never opened, resets of streams it thinks idle)."""

    def __init__(self, port, read_settings=True):
        import hpack
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()
        self.buf = b""
        self.goaway = None
        self.closed = False
        self.resets = {}    # stream id -> error code
        self.statuses = {}  # stream id -> :status
        self.settings_seen = False
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" +
                          hyperframe.frame.SettingsFrame(0).serialize())
        if read_settings:
            self.pump(lambda: self.settings_seen)
            self.pump(lambda: False, timeout=0.2)  # the ACK of ours

    def headers(self, sid, path="/view", method="GET", end=True):
        f = hyperframe.frame.HeadersFrame(sid)
        f.data = self.enc.encode([(":method", method), (":scheme", "http"),
                                  (":authority", "localhost"),
                                  (":path", path)])
        f.flags.add("END_HEADERS")
        if end:
            f.flags.add("END_STREAM")
        return f.serialize()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.closed = True

    def pump(self, until, timeout=10):
        deadline = time.time() + timeout
        while not until():
            if self.closed or time.time() > deadline:
                return False
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return False
            except OSError:
                data = b""
            if not data:
                self.closed = True
                return until()
            self.buf += data
            while len(self.buf) >= 9:
                f, n = hyperframe.frame.Frame.parse_frame_header(
                    memoryview(self.buf[:9]))
                if len(self.buf) < 9 + n:
                    break
                f.parse_body(memoryview(self.buf[9:9 + n]))
                self.buf = self.buf[9 + n:]
                self.on_frame(f)
        return True

    def on_frame(self, f):
        if isinstance(f, hyperframe.frame.SettingsFrame):
            if "ACK" not in f.flags:
                self.settings_seen = True
                self.send(hyperframe.frame.SettingsFrame(
                    0, flags=["ACK"]).serialize())
        elif isinstance(f, hyperframe.frame.GoAwayFrame):
            self.goaway = {"error": f.error_code,
                           "last_stream_id": f.last_stream_id}
        elif isinstance(f, hyperframe.frame.RstStreamFrame):
            self.resets[f.stream_id] = f.error_code
        elif isinstance(f, hyperframe.frame.HeadersFrame):
            for k, v in self.dec.decode(f.data):
                if k in (b":status", ":status"):
                    self.statuses[f.stream_id] = (
                        v.decode() if isinstance(v, bytes) else v)


def scenario_made_you_reset(port, count):
    """Requests the server must reset (a :path without '/'), as fast as the
    socket takes them: the resets it is made to send cost what the
    client's own do ("MadeYouReset")."""
    c = RawConn(port)
    sent = 0
    while sent < int(count) and c.goaway is None and not c.closed:
        # A batch, then its resets: the streams it opened are closed before
        # the next (else nghttp2 counts them against the concurrency limit).
        n = min(50, int(count) - sent)
        c.send(b"".join(c.headers(1 + 2 * (sent + i), path="view")
                        for i in range(n)))
        sent += n
        c.pump(lambda: len(c.resets) >= sent or c.goaway is not None,
               timeout=10)
    c.pump(lambda: c.goaway is not None or c.closed, timeout=10)
    return {"sent": int(count), "resets": len(c.resets), "goaway": c.goaway}


def scenario_stream_id(port, kind):
    """Stream-id abuse: an even id (only the server may open one), a lower
    id after a higher one, or a closed stream's id again."""
    c = RawConn(port)
    ids = {"even": [2], "decreasing": [5, 3], "reused": [1, 1]}[kind]
    for sid in ids:
        c.send(c.headers(sid))
        c.pump(lambda: sid in c.statuses or c.goaway is not None, timeout=5)
    c.pump(lambda: c.goaway is not None or c.closed, timeout=5)
    c.pump(lambda: c.closed, timeout=5)
    return {"statuses": c.statuses, "goaway": c.goaway, "closed": c.closed}


def scenario_too_many_streams(port, limit, when):
    """One stream more than SETTINGS_MAX_CONCURRENT_STREAMS, each left open
    (no END_STREAM): `when` is "before-ack" (all sent with the preface,
    before the server's SETTINGS are read) or "after-ack"."""
    limit = int(limit)
    c = RawConn(port, read_settings=(when == "after-ack"))
    c.send(b"".join(c.headers(1 + 2 * i, method="POST", end=False)
                    for i in range(limit + 1)))
    last = 1 + 2 * limit
    c.pump(lambda: c.goaway is not None or c.closed or last in c.resets,
           timeout=5)
    return {"last_reset": c.resets.get(last), "resets": len(c.resets),
            "goaway": c.goaway}


def scenario_hpack_bomb(port, refs):
    """One 4 KiB field, indexed into the dynamic table, then referenced
    `refs` times in the same header block (python3-hpack indexes a repeated
    field: each later copy is two bytes on the wire). The decoded list is
    what counts."""
    c = settled(port)
    sid = c.request("GET", "/view", headers=[("x-bomb", "b" * 4000)] *
                    int(refs))
    c.pump(lambda: c.done(sid) or c.goaway is not None or c.closed,
           timeout=10)
    r = c.result(sid)
    return {"status": r["status"], "reset": r["reset"],
            "goaway": c.goaway, "after": after_on(c)}


def scenario_starved_stream(port, starved_path, live_path, seconds):
    """Two streams on one connection: the client never opens the window of
    the first (it keeps the connection's open), and reads the second. The
    first is reset; the second goes on."""
    c = Conn(port)
    c.auto_ack = False
    starved = c.request("GET", starved_path)
    live = c.request("GET", live_path)
    deadline = time.time() + float(seconds)
    ticks_after_reset = 0
    while time.time() < deadline and not c.closed:
        before = len(c.stream(live)["body"])
        c.sock.settimeout(0.2)
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            data = None
        if data == b"":
            c.closed = True
            break
        if data:
            for ev in c.h2.receive_data(c.filter_goaway(data)):
                c.on_event(ev)
                if isinstance(ev, h2.events.DataReceived):
                    n = ev.flow_controlled_length
                    if ev.stream_id == live:
                        c.h2.acknowledge_received_data(n, live)
                    elif n:
                        c.h2.increment_flow_control_window(n)
            c.flush()
        if (c.stream(starved)["reset"] is not None and
                len(c.stream(live)["body"]) > before):
            ticks_after_reset += 1
            if ticks_after_reset >= 3:
                break
    return {"starved_reset": c.stream(starved)["reset"],
            "starved_bytes": len(c.stream(starved)["body"]),
            "live_data_after_reset": ticks_after_reset,
            "goaway": c.goaway, "closed": c.closed}


def scenario_steady(port, path, count, interval_ms):
    """One connection, one request every interval: every status, and any
    GOAWAY that came meanwhile."""
    c = Conn(port)
    statuses = []
    for _ in range(int(count)):
        sid = c.request("GET", path)
        c.pump(lambda: c.done(sid) or c.goaway is not None or c.closed,
               timeout=10)
        statuses.append(c.stream(sid)["status"])
        if c.goaway is not None or c.closed:
            break
        c.pump(lambda: c.goaway is not None or c.closed,
               timeout=int(interval_ms) / 1000.0)
    return {"statuses": statuses, "goaway": c.goaway, "closed": c.closed}


def main():
    port = int(sys.argv[1])
    name = sys.argv[2].replace("-", "_")
    fn = globals()["scenario_" + name]
    print(json.dumps(fn(port, *sys.argv[3:])))


if __name__ == "__main__":
    main()
