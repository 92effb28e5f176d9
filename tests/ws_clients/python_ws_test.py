#!/usr/bin/python3
"""WebSocket echo against python3-websockets 10.4 (asyncio API), an
independent client. Run by CTest with Debian's /usr/bin/python3:
    python_ws_test.py BUILD/bin/pounce-host BUILD/plugins/libecho.so
"""
import asyncio
import sys

import websockets

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


async def fragmented_with_pings(host):
    async with websockets.connect(host.url("/"), compression=None) as ws:
        # websockets sends an iterable as one fragmented message.
        await ws.send(["frag", "mented ", "message"])
        pong = await ws.ping(b"between")
        await asyncio.wait_for(pong, 5)
        check(await ws.recv() == "fragmented message", "fragmented text reassembled")
        await ws.send([b"\x00\x01", b"\x02"])
        check(await ws.recv() == b"\x00\x01\x02", "fragmented binary reassembled")


async def expect_1009(host, compression, payload, what):
    async with websockets.connect(host.url("/"), compression=compression,
                                  max_size=None) as ws:
        try:
            # The server fails the connection as soon as the message grows
            # past the limit, possibly while we are still sending it.
            await ws.send(payload)
            await asyncio.wait_for(ws.recv(), 20)
            check(False, what + ": refused")
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else None
            check(code == 1009, f"{what}: closed with 1009 (got {code})")


async def oversize(host):
    await expect_1009(host, None, b"x" * (16 * 1024 * 1024 + 1),
                      "over-size message")


async def oversize_compressed(host):
    # 17 MiB of zeros deflate to a few KiB: the limit counts after inflation.
    await expect_1009(host, "deflate", b"\0" * (17 * 1024 * 1024),
                      "compressed over-size message")


async def close_handshake(host):
    ws = await websockets.connect(host.url("/"))
    await ws.close(code=1000, reason="bye")
    check(ws.close_code == 1000, "close handshake echoes 1000")


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
        await oversize(host)
        await oversize_compressed(host)
        await close_handshake(host)
        await many_sockets(host)
        await deflate_memory_bound(host)
    finally:
        rc = host.stop()
    check(rc == 0, "pounce-host exited 0")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
