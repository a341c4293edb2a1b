"""The sockets the bot and the sandbox listen on: answers on a kept-alive connection are not held back by Nagle."""

from __future__ import annotations

import asyncio
import socket

from sync2books.sandbox.server import bind_socket


async def test_connections_accepted_on_a_bound_socket_have_tcp_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    accepted: asyncio.Future[int] = loop.create_future()

    class Accepted(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            server_side = transport.get_extra_info("socket")
            accepted.set_result(server_side.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    # uvicorn serves a bound socket exactly so: loop.create_server(..., sock=sock).
    server = await loop.create_server(Accepted, sock=sock)
    try:
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        assert await asyncio.wait_for(accepted, 5) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
