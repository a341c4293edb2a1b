"""Serve the sandbox under uvicorn on a socket we bind ourselves, so port 0 works and the real port is known."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from sync2books.sandbox.app import Sandbox


class PortUnavailableError(Exception):
    """The address cannot be listened on; the message says which and why, in one sentence."""


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and without
    # it every answer on a kept-alive connection waited 40 ms for Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailableError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve_sandbox(
    host: str,
    port: int,
    db_path: Path,
    *,
    fault_injection: bool = True,
    on_ready: Callable[[str], None] = print,
) -> None:
    """Run until SIGINT/SIGTERM (uvicorn's own handlers), telling ``on_ready`` the base URL once it answers."""
    sock = bind_socket(host, port)
    sandbox = Sandbox(db_path, fault_injection=fault_injection)
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="warning", access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no "started" event
        await asyncio.sleep(0.02)
    if server.started:
        on_ready(url_of(sock))
    await serving
