"""An ASGI app served by uvicorn on 127.0.0.1 (port 0) in a thread with its own event loop.

The fakes and harnesses of the tests (the sandbox, the fake Slack, scripted services) all run this way, so
that the code under test talks real HTTP to them from its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from starlette.types import ASGIApp

from sync2books.sandbox.server import bind_socket, url_of

T = TypeVar("T")


class ThreadedServer:
    def __init__(self, app: ASGIApp, name: str, *, lifespan: str = "auto") -> None:
        self.name = name
        self._sock = bind_socket("127.0.0.1", 0)
        self.url = url_of(self._sock)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failure: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # handed to the test by start()
            self._failure = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()
        for _ in range(500):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not self._server.started:
            raise RuntimeError(f"{self.name} did not start: {self._failure!r}")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()
        if self._thread.is_alive():
            raise RuntimeError(f"{self.name} did not stop within 15 s")

    def submit(self, work: Coroutine[Any, Any, T]) -> Any:
        """Run a coroutine on the server's own loop; answers a concurrent.futures.Future."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(work, self.loop)
