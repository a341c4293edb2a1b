"""The sandbox under uvicorn on 127.0.0.1, in a thread of its own, for tests that talk HTTP to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from sync2books.client import RetryPolicy, SandboxClient
from sync2books.models import Company, Connection, IntegrationKey
from sync2books.sandbox.app import Sandbox
from sync2books.sandbox.server import bind_socket, url_of

T = TypeVar("T")

TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
OTHER_KEY = "sk_test_other_partner_key_000000"
# Fast enough for tests, still exponential with jitter.
FAST_RETRY = RetryPolicy(max_retries=6, backoff_base=0.01, backoff_max=0.2)


class SandboxServer:
    """Starts in ``__enter__``, stops in ``__exit__``; ``url`` is its base URL."""

    def __init__(self, db_path: Path, *, fault_injection: bool = True, processing_delay_ms: int = 50) -> None:
        self.sandbox = Sandbox(db_path, fault_injection=fault_injection)
        self.sandbox.settings.processing_delay_ms = processing_delay_ms
        self._sock = bind_socket("127.0.0.1", 0)
        self.url = url_of(self._sock)
        self._server = uvicorn.Server(uvicorn.Config(self.sandbox.app, log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._run, name="sandbox", daemon=True)
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, work: Callable[[Sandbox], Awaitable[T]]) -> T:
        """Run ``work(sandbox)`` on the sandbox's own event loop, where its store lives."""
        assert self._loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(self.sandbox), self._loop))

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._sock])

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test in __enter__/__exit__
            self._failure = exc

    def __enter__(self) -> SandboxServer:
        self._thread.start()
        for _ in range(500):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not self._server.started:
            raise RuntimeError(f"the sandbox did not start: {self._failure!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()
        if self._thread.is_alive():
            raise RuntimeError("the sandbox did not stop within 15 s")

    def client(self, key: str = TEST_KEY, **kwargs: object) -> SandboxClient:
        kwargs.setdefault("retry", FAST_RETRY)
        return SandboxClient(self.url, key, **kwargs)  # type: ignore[arg-type]


def link_parts(auth_url: str) -> tuple[str, str]:
    """(path, token) of an authorization link."""
    parts = urlsplit(auth_url)
    return parts.path, parse_qs(parts.query)["token"][0]


async def authorize(auth_url: str, *, deny: bool = False) -> httpx.Response:
    """Click Authorize (or Deny) on an integration's authorization page, as a browser's form post would."""
    path, token = link_parts(auth_url)
    base = auth_url.split(path)[0]
    async with httpx.AsyncClient(base_url=base) as browser:
        page = await browser.get(f"{path}?token={token}")
        if page.status_code != 200:
            return page
        assert "id='authorize'" in page.text and "id='deny'" in page.text
        decision = "deny" if deny else "authorize"
        return await browser.post(f"{path}/{decision}", data={"token": token})


async def connect(client: SandboxClient, company: Company, key: IntegrationKey = IntegrationKey.XERO) -> Connection:
    """A CONNECTED connection of ``key`` for the company, made by authorizing its link."""
    link = await client.get_auth_url(company.id, key)
    answer = await authorize(link.auth_url)
    assert answer.status_code == 200, answer.text
    connections = await client.list_connections(company.id)
    return next(c for c in connections if c.integration_key == key)
