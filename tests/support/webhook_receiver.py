"""A webhook receiver on 127.0.0.1 that records every delivery and answers as the test scripts it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync2books import wire
from tests.support.servers import ThreadedServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        return dict(wire.loads(self.body))


class WebhookReceiver:
    """``url`` takes deliveries; ``answers`` lists the statuses to answer next (then 200)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        app = Starlette(routes=[Route("/hooks", self._take, methods=["POST"])])
        self._server = ThreadedServer(app, "webhook-receiver")
        self.url = f"{self._server.url}/hooks"

    async def _take(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            status = self.answers.pop(0) if self.answers else 200
            self.received.append(Received(dict(request.headers), body, status))
            for notify in self._listeners:
                notify()
        return Response(status_code=status)

    def delivered(self) -> list[Received]:
        """The deliveries answered with a 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r.answered < 300]

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until ``count`` deliveries were accepted; fail the test after ``timeout``."""
        loop = asyncio.get_running_loop()
        arrived = asyncio.Event()

        def notify() -> None:
            loop.call_soon_threadsafe(arrived.set)

        with self._lock:
            self._listeners.append(notify)
        try:
            async with asyncio.timeout(timeout):
                while len(self.delivered()) < count:
                    await arrived.wait()
                    arrived.clear()
        finally:
            with self._lock:
                self._listeners.remove(notify)
        return self.delivered()

    def __enter__(self) -> WebhookReceiver:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()
