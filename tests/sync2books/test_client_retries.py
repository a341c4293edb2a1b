"""Retries: what is retried, how long the client waits, and that nothing is stored twice."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import httpx
import pytest

from apiclient.retry import RetryPolicy
from sync2books.errors import RateLimitedError, ServerError, Sync2BooksTransportError
from sync2books.models import IntegrationKey
from sync2books.sandbox.server import bind_socket
from tests.support.expenses import ledger_refs, make_expense
from tests.support.sandbox import TEST_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient


class Recorder:
    """Counts the statuses the client saw and the pauses it took, without slowing the test down."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.pauses: list[float] = []

    async def on_response(self, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        await asyncio.sleep(seconds)


async def test_a_hundred_posts_through_errors_and_rate_limits_store_each_expense_once(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    patient = RetryPolicy(max_retries=40, backoff_base=0.02, backoff_max=0.5)
    hooks = {"response": [recorder.on_response]}
    async with sandbox.client(retry=patient, event_hooks=hooks, sleep=recorder.sleep) as client:
        company = await client.create_company("Busy Ltd")
        connection = await connect(client, company, IntegrationKey.QUICKBOOKS)
        refs = await ledger_refs(client, connection)
        await client.configure_sandbox(error_rate=0.5, rate_limit_per_minute=600)

        expenses = [make_expense(refs) for _ in range(100)]
        gate = asyncio.Semaphore(10)

        async def post(expense_index: int) -> str:
            async with gate:
                answer = await client.create_expenses(connection.id, [expenses[expense_index]])
                return answer.expenses[0].sync_batch_id

        batch_ids = await asyncio.gather(*(post(i) for i in range(100)))
        await client.configure_sandbox(error_rate=0.0, rate_limit_per_minute=None)

        stored = [e.id async for b in client.iter_sync_batches(connection_id=connection.id) for e in b.expenses]
    assert sorted(stored) == sorted(e.id for e in expenses)  # every one, and none twice
    assert len(set(batch_ids)) == 100
    assert recorder.statuses[503] > 10, recorder.statuses  # the faults really happened …
    assert recorder.statuses[429] > 0, recorder.statuses  # … and so did the rate limit
    # A 429 is waited out for at least the Retry-After it carried (whole seconds).
    assert any(pause >= 1.0 for pause in recorder.pauses)


async def test_a_call_that_is_not_idempotent_is_not_repeated_after_a_5xx(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with sandbox.client(event_hooks={"response": [recorder.on_response]}) as client:
        await client.configure_sandbox(error_rate=1.0)
        with pytest.raises(ServerError) as failed:
            await client.create_company("Once Ltd")
        assert (failed.value.status, failed.value.code) == (503, "unavailable")
        assert recorder.statuses[503] == 1
        # The sandbox handled it and only the answer was lost: exactly one company, not several.
        await client.configure_sandbox(error_rate=0.0)
        assert (await client.list_companies()).total == 1

        await client.configure_sandbox(error_rate=1.0)
        with pytest.raises(ServerError):
            await client.list_companies()
        assert recorder.statuses[503] == 1 + 1 + client.retry.max_retries


async def test_a_429_is_retried_for_every_call_after_its_retry_after(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    async with sandbox.client(event_hooks={"response": [recorder.on_response]}, sleep=recorder.sleep) as client:
        await client.configure_sandbox(rate_limit_per_minute=60)
        first = await client.create_company("One")
        second = await client.create_company("Two")  # refused once with 429, then sent again
    assert first.id != second.id
    assert recorder.statuses[429] >= 1
    assert recorder.pauses and min(recorder.pauses) >= 1.0


async def test_a_retry_after_beyond_the_policy_is_not_waited_out(sandbox: SandboxServer) -> None:
    impatient = RetryPolicy(max_retries=5, backoff_base=0.01, max_retry_after=0.5)
    async with sandbox.client(retry=impatient) as client:
        await client.configure_sandbox(rate_limit_per_minute=1)
        await client.list_companies()
        with pytest.raises(RateLimitedError) as limited:
            await client.list_companies()
    assert limited.value.status == 429
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1


async def test_rate_limit_headers_come_with_every_answer(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as raw:
        for answer in (
            await raw.get("/companies"),
            await raw.get("/nowhere"),
            await raw.post("/companies", content=b"x"),
        ):
            assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-request-id"} <= set(
                answer.headers
            )
        await raw.put("/sandbox/settings", json={"rateLimitPerMinute": 60})
        await raw.get("/companies")
        limited = await raw.get("/companies")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-limit"] == "60"
    assert limited.headers["x-ratelimit-remaining"] == "0"


async def test_an_unreachable_service_is_retried_then_reported_plainly(caplog: pytest.LogCaptureFixture) -> None:
    closed = bind_socket("127.0.0.1", 0)
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    recorder = Recorder()
    caplog.set_level(logging.DEBUG)
    policy = RetryPolicy(max_retries=3, backoff_base=0.01)
    async with SandboxClient(f"http://127.0.0.1:{port}", TEST_KEY, retry=policy, sleep=recorder.sleep) as client:
        with pytest.raises(Sync2BooksTransportError) as failed:
            await client.create_company("Nobody home")  # never sent, so retried even though not idempotent
    assert len(recorder.pauses) == 3
    assert str(failed.value) == "Sync2Books POST /companies failed: ConnectError after 4 attempts"
    assert TEST_KEY not in caplog.text


async def test_a_read_timeout_is_retried_only_for_idempotent_calls(sandbox: SandboxServer) -> None:
    recorder = Recorder()
    quick = httpx.Timeout(connect=2.0, read=0.2, write=2.0, pool=2.0)
    policy = RetryPolicy(max_retries=2, backoff_base=0.01)
    async with sandbox.client() as control:
        await control.configure_sandbox(latency_ms=600)
        async with sandbox.client(timeout=quick, retry=policy, sleep=recorder.sleep) as client:
            with pytest.raises(Sync2BooksTransportError, match="ReadTimeout after 3 attempts"):
                await client.list_companies()
            assert len(recorder.pauses) == 2
            with pytest.raises(Sync2BooksTransportError, match=r"ReadTimeout$"):
                await client.create_company("Slow Ltd")
            assert len(recorder.pauses) == 2  # no retry for the POST
        await control.configure_sandbox(latency_ms=0)
