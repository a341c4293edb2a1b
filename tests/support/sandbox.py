"""The sandbox under uvicorn on 127.0.0.1, in a thread of its own, for tests that talk HTTP to it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from apiclient.retry import RetryPolicy
from sync2books.models import Company, Connection, IntegrationKey
from sync2books.sandbox.app import Sandbox
from tests.support.sandbox_client import SandboxClient
from tests.support.servers import ThreadedServer

T = TypeVar("T")

TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
OTHER_KEY = "sk_test_other_partner_key_000000"
# Fast enough for tests, still exponential with jitter.
FAST_RETRY = RetryPolicy(max_retries=6, backoff_base=0.01, backoff_max=0.2)


class _Counted:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests[f"{scope['method']} {scope['path']}"] += 1
        await self.app(scope, receive, send)


class SandboxServer:
    """Starts in ``__enter__``, stops in ``__exit__``; ``url`` is its base URL."""

    def __init__(self, db_path: Path, *, fault_injection: bool = True, processing_delay_ms: int = 50) -> None:
        self.sandbox = Sandbox(db_path, fault_injection=fault_injection)
        self.sandbox.settings.processing_delay_ms = processing_delay_ms
        # "GET /sync-batches" → how many such requests reached the sandbox, for tests that count a watcher's calls.
        counted = _Counted(self.sandbox.app)
        self.requests = counted.requests
        self._server = ThreadedServer(counted, "sandbox")
        self.url = self._server.url

    async def call(self, work: Callable[[Sandbox], Awaitable[T]]) -> T:
        """Run ``work(sandbox)`` on the sandbox's own event loop, where its store lives."""
        return await asyncio.wrap_future(self._server.submit(work(self.sandbox)))  # type: ignore[arg-type]

    def __enter__(self) -> SandboxServer:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

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
