#!/usr/bin/env python3
"""A TCP proxy that adds one-way latency in both directions, for measuring the send path.

Usage: latency_proxy.py --delay-ms 50 --stats FILE LISTEN_PORT:TARGET_PORT [...]

Every chunk is forwarded `delay` after it arrived, in order, so a request/reply exchange costs one
round trip of 2 x delay. For each connection it records the number of client "turns" (the client
sends after having received something, or first): the protocol round trips the client waited for.
The TCP handshake is modelled: the proxy opens the connection to the server 3 x delay after it
accepted the client's (SYN, SYN-ACK, ACK: a real server accepts then, and its greeting reaches
the client 2 round trips after the client began to connect). Bytes the client sends meanwhile
wait for it.
Stats are appended to FILE as one JSON line per closed connection. Loopback only.
"""
import argparse
import asyncio
import json
import time


async def pump(reader, writer, delay, on_chunk):
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.close()
        except Exception:
            pass

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            on_chunk(len(data))
            queue.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    queue.put_nowait((time.monotonic() + delay, None))
    await task


async def handle(client_r, client_w, target_port, delay, stats_file, listen_port):
    await asyncio.sleep(3 * delay)
    try:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
    except OSError:
        client_w.close()
        return
    st = {"port": listen_port, "turns": 0, "c2s": 0, "s2c": 0, "last": "s", "opened": time.monotonic()}

    def from_client(n):
        if st["last"] != "c":
            st["turns"] += 1
        st["last"] = "c"
        st["c2s"] += n

    def from_server(n):
        st["last"] = "s"
        st["s2c"] += n

    # The greeting the client waits for counts as a turn too (it waits one way for it).
    st["turns"] = 0
    await asyncio.gather(
        pump(client_r, server_w, delay, from_client),
        pump(server_r, client_w, delay, from_server),
    )
    st["seconds"] = round(time.monotonic() - st.pop("opened"), 4)
    st.pop("last")
    with open(stats_file, "a") as f:
        f.write(json.dumps(st) + "\n")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=50)
    ap.add_argument("--stats", required=True)
    ap.add_argument("maps", nargs="+")
    a = ap.parse_args()
    servers = []
    for m in a.maps:
        lp, tp = (int(x) for x in m.split(":"))
        servers.append(
            await asyncio.start_server(
                lambda r, w, tp=tp, lp=lp: handle(r, w, tp, a.delay_ms / 1000, a.stats, lp), "127.0.0.1", lp
            )
        )
    print("proxy ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
