"""The sandbox's own endpoints: settings, switching connections, and switching them all off."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from sync2books.errors import NotFoundError, ValidationFailedError
from sync2books.models import ConnectionStatus, IntegrationKey, SandboxSettings
from tests.support.sandbox import OTHER_KEY, TEST_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient


async def test_every_fault_is_off_at_start_and_settings_change_by_subset(client: SandboxClient) -> None:
    start = await client.sandbox_settings()
    assert (start.latency_ms, start.error_rate, start.rate_limit_per_minute) == (0, 0.0, None)
    changed = await client.configure_sandbox(latency_ms=5, rate_limit_per_minute=1000)
    assert changed == SandboxSettings(
        processing_delay_ms=start.processing_delay_ms, latency_ms=5, error_rate=0.0, rate_limit_per_minute=1000
    )
    assert await client.sandbox_settings() == changed
    cleared = await client.configure_sandbox(rate_limit_per_minute=None)
    assert cleared.rate_limit_per_minute is None
    assert cleared.latency_ms == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"errorRate": 1.5}, "errorRate"),
        ({"latencyMs": -1}, "latencyMs"),
        ({"processingDelayMs": "fast"}, "processingDelayMs"),
        ({"rateLimitPerMinute": 0}, "rateLimitPerMinute"),
        ({"latencyMs": None}, "latencyMs"),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(
    client: SandboxClient, body: dict[str, object], field: str
) -> None:
    before = await client.sandbox_settings()
    with pytest.raises(ValidationFailedError) as refused:
        await client.request("PUT", "/sandbox/settings", idempotent=True, json=body)
    assert [d.field for d in refused.value.details] == [field]
    assert await client.sandbox_settings() == before


async def test_latency_delays_api_answers_but_never_the_sandbox_endpoints(client: SandboxClient) -> None:
    await client.configure_sandbox(latency_ms=400, error_rate=1.0)
    began = time.monotonic()
    settings = await client.sandbox_settings()  # neither delayed nor failed
    assert time.monotonic() - began < 0.3
    assert settings.error_rate == 1.0
    await client.configure_sandbox(error_rate=0.0)
    began = time.monotonic()
    await client.list_integrations()
    assert time.monotonic() - began >= 0.4


async def test_a_connection_can_be_switched_as_the_software_would(
    sandbox: SandboxServer, client: SandboxClient
) -> None:
    company = await client.create_company("Switch Ltd")
    connection = await connect(client, company, IntegrationKey.QUICKBOOKS)
    errored = await client.switch_connection(connection.id, ConnectionStatus.ERROR)
    assert errored.error is not None
    assert (errored.status, errored.error.code) == (ConnectionStatus.ERROR, "token_expired")
    assert "QuickBooks Online" in errored.error.message
    assert errored.updated_at > connection.updated_at
    gone = await client.switch_connection(connection.id, ConnectionStatus.DISCONNECTED)
    assert (gone.status, gone.error) == (ConnectionStatus.DISCONNECTED, None)
    with pytest.raises(ValidationFailedError):
        await client.switch_connection(connection.id, ConnectionStatus.CONNECTED)
    async with sandbox.client(OTHER_KEY) as other:
        with pytest.raises(NotFoundError):
            await other.switch_connection(connection.id, ConnectionStatus.ERROR)


async def test_without_fault_injection_the_sandbox_endpoints_are_404(tmp_path: Path) -> None:
    with SandboxServer(tmp_path / "plain.sqlite3", fault_injection=False) as plain:
        async with httpx.AsyncClient(base_url=plain.url, headers={"Authorization": f"Bearer {TEST_KEY}"}) as raw:
            for method, path in (("GET", "/sandbox/settings"), ("PUT", "/sandbox/settings")):
                answer = await raw.request(method, path, json={"errorRate": 1})
                assert answer.status_code == 404
                assert answer.json()["error"]["code"] == "not_found"
            assert (await raw.get("/integrations")).status_code == 200
