#!/usr/bin/python3
"""WebSocket echo against python3-websockets 10.4 (asyncio API), an
independent client. Run by CTest with Debian's /usr/bin/python3:
    python_ws_test.py BUILD/bin/pounce-host BUILD/plugins/libecho.so
"""
import asyncio
import os
import struct
import sys

import websockets
from websockets.frames import OP_BINARY, OP_CLOSE, OP_CONT, OP_TEXT

from common import Host, check

SIZES = [0, 125, 126, 64 * 1024, 1024 * 1024]


async def echo_sizes(host, compression):
    async with websockets.connect(host.url("/"), compression=compression,
                                  max_size=None) as ws:
        ext = ws.response_headers.get("Sec-WebSocket-Extensions")
        check((ext is not None) == (compression == "deflate"),
              f"permessage-deflate negotiated iff offered ({compression})")
        for n in SIZES:
            text = "é" * (n // 2) + "a" * (n % 2)
            await ws.send(text)
            check(await ws.recv() == text, f"text {len(text.encode())} B echoed ({compression})")
            data = bytes(i % 251 for i in range(n))
            await ws.send(data)
            check(await ws.recv() == data, f"binary {n} B echoed ({compression})")


async def pong_back(pong, what):
    # websockets resolves a ping's waiter only on a pong carrying the same
    # payload, so a pong with another payload times out here.
    try:
        await asyncio.wait_for(pong, 5)
        check(True, what)
    except asyncio.TimeoutError:
        check(False, what)


async def fragmented_with_pings(host):
    async with websockets.connect(host.url("/"), compression=None) as ws:
        # websockets sends an (async) iterable as one fragmented message; the
        # pings go out between its fragments.
        async def fragments():
            yield "frag"
            await pong_back(await ws.ping(b"between"),
                            "pong between fragments carries the ping's payload")
            yield "mented "
            await pong_back(await ws.ping(b"again"),
                            "second pong between fragments carries the ping's payload")
            yield "message"

        await ws.send(fragments())
        check(await ws.recv() == "fragmented message",
              "fragmented text with pings between reassembled")
        await ws.send([b"\x00\x01", b"\x02"])
        check(await ws.recv() == b"\x00\x01\x02", "fragmented binary reassembled")


def masked_frame(opcode, payload, fin=True):
    """A client frame built by hand (payload under 126 bytes)."""
    key = os.urandom(4)
    return (bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)]) + key
            + bytes(b ^ key[i % 4] for i, b in enumerate(payload)))


async def expect_close(ws, code, what):
    """Waits for the server's close frame and checks its code."""
    try:
        await asyncio.wait_for(ws.recv(), 20)
        check(False, what + ": refused")
    except asyncio.TimeoutError:
        check(False, what + ": no close from the server")
    except websockets.ConnectionClosed as e:
        got = e.rcvd.code if e.rcvd else None
        check(got == code, f"{what}: closed with {code} (got {got})")


async def invalid_utf8_across_fragments(host):
    async with websockets.connect(host.url("/"), compression=None) as ws:
        # "\xc3" starts a two-byte code point; "\x28" cannot continue it. The
        # message is not finished: the server must fail it at once.
        await ws.write_frame(False, OP_TEXT, b"ok \xc3")
        await ws.write_frame(False, OP_CONT, b"\x28 and more")
        await expect_close(ws, 1007, "invalid UTF-8 split inside a code point")


async def unmasked_frame(host):
    async with websockets.connect(host.url("/"), compression=None) as ws:
        ws.transport.write(b"\x81\x02hi")  # FIN+text, no mask bit
        await expect_close(ws, 1002, "unmasked client frame")


BAD_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]


async def bad_close_codes(host):
    for code in BAD_CLOSE_CODES:
        async with websockets.connect(host.url("/"), compression=None) as ws:
            # websockets refuses to send these, so the close frame is raw.
            ws.transport.write(masked_frame(OP_CLOSE, struct.pack("!H", code)))
            await expect_close(ws, 1002, f"client close code {code}")


async def expect_1009(host, compression, payload, what):
    async with websockets.connect(host.url("/"), compression=compression,
                                  max_size=None) as ws:
        try:
            # The server fails the connection as soon as the message grows
            # past the limit, possibly while we are still sending it.
            await ws.send(payload)
        except websockets.ConnectionClosed:
            pass
        await expect_close(ws, 1009, what)


async def oversize(host):
    await expect_1009(host, None, b"x" * (16 * 1024 * 1024 + 1),
                      "over-size message")


async def oversize_compressed(host):
    # 17 MiB of zeros deflate to a few KiB: the limit counts after inflation.
    await expect_1009(host, "deflate", b"\0" * (17 * 1024 * 1024),
                      "compressed over-size message")


async def oversize_fragmented(host):
    async with websockets.connect(host.url("/"), compression=None,
                                  max_size=None) as ws:
        try:
            # A first fragment at the limit, then one byte over it: little is
            # in flight when the server fails, so its close is not reset away.
            await ws.write_frame(False, OP_BINARY, b"x" * (16 * 1024 * 1024))
            await ws.write_frame(False, OP_CONT, b"x")
        except websockets.ConnectionClosed:
            pass
        await expect_close(ws, 1009, "over-size message across fragments")


async def close_handshake(host):
    for code in [1000, 3000, 4999]:
        ws = await websockets.connect(host.url("/"))
        await ws.close(code=code, reason="bye")
        check(ws.close_code == code, f"close handshake echoes {code}")


async def many_sockets(host, n=1000):
    async def one(i):
        async with websockets.connect(host.url("/"), compression=None,
                                      open_timeout=30) as ws:
            msg = f"socket {i}"
            await ws.send(msg)
            return await asyncio.wait_for(ws.recv(), 30) == msg

    # Open them all before any finishes: they are concurrent, not serial.
    results = await asyncio.gather(*(one(i) for i in range(n)))
    check(all(results), f"{n} concurrent sockets echoed")


async def deflate_memory_bound(host, n=600):
    """Past 256 compressed sockets on a loop, new ones negotiate no context
    takeover (their zlib state is freed between messages)."""
    sockets = []
    try:
        for _ in range(n):
            sockets.append(await websockets.connect(host.url("/"),
                                                    compression="deflate"))
        exts = [ws.response_headers.get("Sec-WebSocket-Extensions", "")
                for ws in sockets]
        bounded = sum("server_no_context_takeover" in e for e in exts)
        check(all(e.startswith("permessage-deflate") for e in exts),
              f"{n} sockets negotiated permessage-deflate")
        check(0 < bounded < n,
              f"past the per-loop bound, sockets drop context takeover ({bounded} of {n})")
        for ws in sockets[-3:]:
            await ws.send("still compressed " * 20)
            check(await ws.recv() == "still compressed " * 20,
                  "a socket without context takeover echoes")
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def main(binary, plugin):
    host = Host(binary, "--plugin", plugin, "--async-threads", "2",
                "--max-connections", "5000")
    try:
        await echo_sizes(host, "deflate")
        await echo_sizes(host, None)
        await fragmented_with_pings(host)
        await invalid_utf8_across_fragments(host)
        await unmasked_frame(host)
        await bad_close_codes(host)
        await oversize(host)
        await oversize_fragmented(host)
        await oversize_compressed(host)
        await close_handshake(host)
        await many_sockets(host)
        await deflate_memory_bound(host)
    finally:
        rc = host.stop()
    check(rc == 0, "pounce-host exited 0")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
