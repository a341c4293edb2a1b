"""The sandbox's webhooks as the contract says: subscriptions, signed deliveries, retries, faults, restarts."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from sync2books.errors import NotFoundError, ValidationFailedError
from sync2books.models import (
    BatchStatus,
    ConnectionChange,
    ConnectionStatus,
    IntegrationKey,
    SyncBatch,
    WebhookEventType,
)
from sync2books.sandbox.webhooks import retry_delay
from tests.support.expenses import ledger_refs, make_expense, wait_for_batch
from tests.support.sandbox import OTHER_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient
from tests.support.webhook_receiver import Received, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def verified(delivery: Received, secret: str) -> dict[str, object]:
    """The event, checked with the Standard Webhooks library exactly as a receiver would."""
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert isinstance(event, dict)
    return event


async def test_a_subscription_shows_its_secret_once_and_is_listed_and_deleted(
    sandbox: SandboxServer, client: SandboxClient
) -> None:
    created = await client.create_webhook("https://bot.example.com/webhooks/sync2books")
    assert created.secret is not None and created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"))) >= 24
    assert created.events == list(WebhookEventType)  # all, by default
    listed = await client.request("GET", "/webhooks", idempotent=True)
    assert "secret" not in listed.text
    assert [w.id for w in await client.list_webhooks()] == [created.id]
    async with sandbox.client(OTHER_KEY) as other:
        assert await other.list_webhooks() == []
        with pytest.raises(NotFoundError):
            await other.delete_webhook(created.id)
    await client.delete_webhook(created.id)
    assert await client.list_webhooks() == []
    with pytest.raises(NotFoundError):
        await client.delete_webhook(created.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://bot.example.com/hooks"}, "url"),
        ({"url": "bot.example.com/hooks"}, "url"),
        ({"url": "https://bot.example.com/hooks", "events": ["sync_batch.exploded"]}, "events[0]"),
        ({"url": "https://bot.example.com/hooks", "events": []}, "events"),
    ],
)
async def test_a_bad_subscription_is_refused(client: SandboxClient, body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        await client.request("POST", "/webhooks", idempotent=False, json=body)
    assert [d.field for d in refused.value.details] == [field]
    assert await client.list_webhooks() == []


async def test_each_ending_of_a_batch_is_delivered_signed_with_the_batch_inside(
    client: SandboxClient, receiver: WebhookReceiver
) -> None:
    hook = await client.create_webhook(receiver.url)
    assert hook.secret is not None
    company = await client.create_company("Hooked Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    await receiver.wait_for(1)  # the new connection's own event
    refs = await ledger_refs(client, connection)
    good = await client.create_expenses(connection.id, [make_expense(refs)])
    mixed = await client.create_expenses(
        connection.id, [make_expense(refs), make_expense(refs, bankAccountRef={"id": "no-such-bank"})]
    )
    bad = await client.create_expenses(connection.id, [make_expense(refs, bankAccountRef={"id": "no-such-bank"})])
    for accepted in (good, mixed, bad):
        await wait_for_batch(client, accepted.sync_batch_id)
    deliveries = await receiver.wait_for(4)

    events = [verified(d, hook.secret) for d in deliveries]
    assert len({d.id for d in deliveries}) == 4
    kinds = {str(e["type"]): SyncBatch.model_validate(e["data"]) for e in events[1:]}
    assert {kind: batch.id for kind, batch in kinds.items()} == {
        "sync_batch.completed": good.sync_batch_id,
        "sync_batch.partially_failed": mixed.sync_batch_id,
        "sync_batch.failed": bad.sync_batch_id,
    }
    partial = kinds["sync_batch.partially_failed"]
    assert (partial.status, partial.counts.synced, partial.counts.failed) == (BatchStatus.PARTIALLY_FAILED, 1, 1)
    assert partial.expenses[1].error is not None
    assert partial.expenses[1].error.code == "bank_account_not_found"
    assert all(str(e["timestamp"]).endswith("Z") for e in events)
    stamp = int(deliveries[-1].headers["webhook-timestamp"])
    assert abs(stamp - time.time()) < 60


async def test_a_forged_or_altered_delivery_fails_verification(
    client: SandboxClient, receiver: WebhookReceiver
) -> None:
    hook = await client.create_webhook(receiver.url)
    assert hook.secret is not None
    company = await client.create_company("Forged Ltd")
    await connect(client, company)
    [delivery] = await receiver.wait_for(1)
    verified(delivery, hook.secret)
    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(delivery.body, delivery.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(hook.secret).verify(delivery.body.replace(b"CONNECTED", b"ERROR"), delivery.headers)


async def test_connection_changes_carry_the_status_they_left(client: SandboxClient, receiver: WebhookReceiver) -> None:
    await client.create_webhook(receiver.url, [WebhookEventType.CONNECTION_STATUS_CHANGED])
    company = await client.create_company("Switching Ltd")
    connection = await connect(client, company, IntegrationKey.QUICKBOOKS)
    await client.switch_connection(connection.id, ConnectionStatus.ERROR)
    await client.disconnect(company.id, connection.id)
    await client.disconnect(company.id, connection.id)  # unlinking twice changes nothing, says nothing
    await connect(client, company, IntegrationKey.QUICKBOOKS)  # authorizing again repairs it
    deliveries = await receiver.wait_for(4)
    # Delivery order is not guaranteed; the event's timestamp tells the order of the changes.
    deliveries.sort(key=lambda d: datetime.fromisoformat(str(d.event["timestamp"])))
    changes = [ConnectionChange.model_validate(d.event["data"]) for d in deliveries]
    assert {d.event["type"] for d in deliveries} == {"connection.status_changed"}
    assert [(c.previous_status, c.status) for c in changes] == [
        (None, ConnectionStatus.CONNECTED),
        (ConnectionStatus.CONNECTED, ConnectionStatus.ERROR),
        (ConnectionStatus.ERROR, ConnectionStatus.DISCONNECTED),
        (ConnectionStatus.DISCONNECTED, ConnectionStatus.CONNECTED),
    ]
    assert changes[1].error is not None and changes[1].error.code == "token_expired"
    assert {c.id for c in changes} == {connection.id}


async def test_only_the_events_subscribed_to_are_delivered(client: SandboxClient, receiver: WebhookReceiver) -> None:
    await client.create_webhook(receiver.url, [WebhookEventType.SYNC_BATCH_FAILED])
    company = await client.create_company("Picky Ltd")
    connection = await connect(client, company)
    refs = await ledger_refs(client, connection)
    good = await client.create_expenses(connection.id, [make_expense(refs)])
    bad = await client.create_expenses(connection.id, [make_expense(refs, bankAccountRef={"id": "nope"})])
    await wait_for_batch(client, good.sync_batch_id)
    await wait_for_batch(client, bad.sync_batch_id)
    [delivery] = await receiver.wait_for(1)
    assert (delivery.event["type"], delivery.event["data"]["id"]) == ("sync_batch.failed", bad.sync_batch_id)


def test_the_retry_schedule_is_the_contracts_scaled() -> None:
    assert [retry_delay(n, 1.0).total_seconds() for n in range(1, 8)] == [  # type: ignore[union-attr]
        5,
        300,
        1800,
        7200,
        18000,
        36000,
        36000,
    ]
    assert retry_delay(2, 0.001).total_seconds() == pytest.approx(0.3)  # type: ignore[union-attr]
    assert retry_delay(8, 1.0) is None


async def test_a_failed_delivery_is_retried_with_the_same_id_until_it_is_taken(
    client: SandboxClient, receiver: WebhookReceiver
) -> None:
    hook = await client.create_webhook(receiver.url)
    assert hook.secret is not None
    await client.configure_sandbox(webhook_retry_scale=0.001)
    receiver.answers = [500, 503]
    began = time.monotonic()
    await connect(client, await client.create_company("Retry Ltd"))
    [delivery] = await receiver.wait_for(1)
    elapsed = time.monotonic() - began
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert {r.id for r in receiver.received} == {delivery.id}
    assert elapsed >= (5 + 300) * 0.001  # the first two steps of the schedule, scaled
    verified(delivery, hook.secret)  # signed afresh on each attempt


async def test_deliveries_the_sandbox_drops_are_retried_and_given_up_after_the_schedule(
    sandbox: SandboxServer, client: SandboxClient, receiver: WebhookReceiver
) -> None:
    await client.create_webhook(receiver.url)
    await client.configure_sandbox(webhook_failure_rate=1.0, webhook_retry_scale=0.00001)
    await connect(client, await client.create_company("Unlucky Ltd"))
    for _ in range(500):
        states = await sandbox.call(lambda s: s.store.delivery_states())
        if states.get("failed"):
            break
        await asyncio.sleep(0.01)
    assert states == {"failed": 1}
    assert receiver.received == []  # dropped as if the receiver failed: nothing reached it

    await client.configure_sandbox(webhook_failure_rate=0.5, webhook_retry_scale=0.0001)
    company = await client.create_company("Half Lucky Ltd")
    for key in (IntegrationKey.XERO, IntegrationKey.SAGE, IntegrationKey.QUICKBOOKS, IntegrationKey.QUICKBOOKS_DESKTOP):
        await connect(client, company, key)
    deliveries = await receiver.wait_for(4)
    assert len({d.id for d in deliveries}) == 4


async def test_a_delivery_waits_the_configured_delay(client: SandboxClient, receiver: WebhookReceiver) -> None:
    await client.create_webhook(receiver.url)
    await client.configure_sandbox(webhook_delay_ms=400)
    began = time.monotonic()
    await connect(client, await client.create_company("Patient Ltd"))
    await receiver.wait_for(1)
    assert time.monotonic() - began >= 0.4


async def test_an_undelivered_event_is_delivered_after_a_restart(tmp_path: Path, receiver: WebhookReceiver) -> None:
    db_path = tmp_path / "sandbox.sqlite3"
    with SandboxServer(db_path) as first:
        async with first.client() as client:
            await client.create_webhook(receiver.url)
            await client.configure_sandbox(webhook_failure_rate=1.0, webhook_retry_scale=0.001)
            company = await client.create_company("Restarted Ltd")
            connection = await connect(client, company)
    assert receiver.received == []
    with SandboxServer(db_path) as second:  # every fault off again, as at any start
        async with second.client() as client:
            assert (await client.sandbox_settings()).webhook_failure_rate == 0.0
            [delivery] = await receiver.wait_for(1)
    assert delivery.event["data"]["id"] == connection.id


async def test_the_webhook_knobs_are_settings_like_the_others(client: SandboxClient) -> None:
    start = await client.sandbox_settings()
    assert (start.webhook_delay_ms, start.webhook_failure_rate, start.webhook_retry_scale) == (0, 0.0, 1.0)
    changed = await client.configure_sandbox(webhook_delay_ms=10, webhook_failure_rate=0.25, webhook_retry_scale=0.5)
    assert (changed.webhook_delay_ms, changed.webhook_failure_rate, changed.webhook_retry_scale) == (10, 0.25, 0.5)
    for body in ({"webhookRetryScale": 0}, {"webhookFailureRate": 2}, {"webhookDelayMs": -5}):
        with pytest.raises(ValidationFailedError):
            await client.request("PUT", "/sandbox/settings", idempotent=True, json=body)
    assert await client.sandbox_settings() == changed
