"""A small TCP/Unix-socket forwarder for the multi-host test (tests/test_multihost.py).

Network namespaces share the filesystem but not the network, so a service listening on the machine's
loopback (PostgreSQL, Redis, the local LLM server) reaches a namespace through a Unix socket: one
forwarder in the root namespace listens on the socket and connects to 127.0.0.1, another inside the
services namespace listens on its addresses and connects to the socket. Each accepted connection's peer
address is appended to --log, so the test knows which host talked to which service.

    python -m tests.netns_bridge --pair tcp:0.0.0.0:5432=unix:/tmp/x/pg.sock --log /tmp/x/peers.log
    python -m tests.netns_bridge --pair unix:/tmp/x/pg.sock=tcp:127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def connect(target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    kind, _, where = target.partition(":")
    if kind == "unix":
        return await asyncio.open_unix_connection(where)
    host, _, port = where.rpartition(":")
    return await asyncio.open_connection(host, int(port))


async def serve(listen: str, target: str, log: Path | None) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if log is not None:
            with log.open("a") as out:
                out.write(f"{listen} {peer[0] if isinstance(peer, tuple) else 'unix'}\n")
        try:
            up_reader, up_writer = await connect(target)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    kind, _, where = listen.partition(":")
    if kind == "unix":
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where)
        return await asyncio.start_unix_server(handle, where)
    host, _, port = where.rpartition(":")
    return await asyncio.start_server(handle, host, int(port), reuse_address=True)


async def main(pairs: list[str], log: Path | None, ready: Path | None) -> None:
    servers = [await serve(*pair.split("=", 1), log) for pair in pairs]
    if ready is not None:
        ready.write_text("ready")
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pair", action="append", required=True, help="LISTEN=TARGET, tcp:HOST:PORT or unix:PATH")
    parser.add_argument("--log", type=Path)
    parser.add_argument("--ready", type=Path, help="written once every listener is up")
    args = parser.parse_args()
    asyncio.run(main(args.pair, args.log, args.ready))
