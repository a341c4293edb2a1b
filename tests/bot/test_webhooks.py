"""Webhooks into the bot: subscribed once, verified, deduplicated, and announced through the exactly-once path."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook
from svix.webhooks import Webhook as SvixWebhook

from bot.sealing import Sealer
from storage.db import Database
from storage.repositories import Companies
from storage.tables import CompanyRecord, WebhookSubscriptionRecord, utcnow
from sync2books import wire
from sync2books.models import IntegrationKey
from tests.bot.test_exactly_once import _accepted
from tests.bot.test_outcomes import submit, thread_reply
from tests.support.bot import RunningBot, bot_settings, webhook_bot_settings
from tests.support.expense_modal import company_with_xero
from tests.support.expenses import ledger_refs, make_expense
from tests.support.fake_codat import running_fake_codat
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer, connect
from tests.support.sandbox_client import SandboxClient

ENCRYPTION_KEY = Fernet.generate_key().decode()


async def stored_secret(database_url: str) -> tuple[str, str]:
    """(the record as stored, the secret it seals), read as an operator with the key would."""
    db = Database(database_url)
    try:
        async with db.session() as session:
            record = await session.get(WebhookSubscriptionRecord, "sync2books")
    finally:
        await db.dispose()
    assert record is not None
    return record.secret, Sealer(SecretStr(ENCRYPTION_KEY)).open(record.secret)


def signed(secret: str, body: bytes, *, msg_id: str | None = None, at: datetime | None = None) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def event(kind: str, data: dict[str, Any]) -> bytes:
    return wire.dumps({"type": kind, "timestamp": datetime.now(UTC), "data": data})


async def test_the_bot_subscribes_once_and_keeps_the_secret_encrypted(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, bot_database: str
) -> None:
    settings = webhook_bot_settings(fake_slack, bot_database, sandbox.url, token_encryption_key=ENCRYPTION_KEY)
    with RunningBot(settings, fake_slack) as bot:
        url = f"{bot.url}/webhooks/sync2books"
    with RunningBot(settings, fake_slack):
        pass
    hooks = await client.list_webhooks()
    assert [h.url for h in hooks] == [url]
    sealed, secret = await stored_secret(bot_database)
    assert sealed.startswith("fernet:") and secret.startswith("whsec_")
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed


async def test_each_delivery_is_answered_as_the_contract_says(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, bot_database: str
) -> None:
    settings = webhook_bot_settings(fake_slack, bot_database, sandbox.url, token_encryption_key=ENCRYPTION_KEY)
    with RunningBot(settings, fake_slack) as bot:
        _, secret = await stored_secret(bot_database)
        hook = f"{bot.url}/webhooks/sync2books"
        company = await client.create_company("Not Ours Ltd")
        connection = await connect(client, company)
        data = wire.to_data(connection)
        body = event("connection.status_changed", {**data, "previousStatus": None})
        async with httpx.AsyncClient() as http:

            async def post(content: bytes, headers: dict[str, str]) -> httpx.Response:
                return await http.post(hook, content=content, headers=headers)

            valid = signed(secret, body)
            answer = await post(body, valid)
            assert (answer.status_code, answer.json()["outcome"]) == (200, "accepted")

            replayed = await post(body, valid)  # the very same request again
            assert replayed.status_code == 401

            later = datetime.now(UTC) + timedelta(seconds=1)
            retried = await post(body, signed(secret, body, msg_id=valid["webhook-id"], at=later))
            assert (retried.status_code, retried.json()["outcome"]) == (200, "duplicate")

            other_secret = "whsec_" + base64.b64encode(b"forger's own key, 32 bytes long!").decode()
            assert (await post(body, signed(other_secret, body))).status_code == 401
            tampered = body.replace(b"CONNECTED", b"ERROR")
            assert (await post(tampered, signed(secret, body))).status_code == 401

            stale = signed(secret, body, at=datetime.now(UTC) - timedelta(minutes=6))
            assert (await post(body, stale)).status_code == 401
            unsigned = {k: v for k, v in valid.items() if k != "webhook-signature"}
            assert (await post(body, unsigned)).status_code == 401

            unknown = event("invoice.paid", {"id": "inv_1"})
            ignored = await post(unknown, signed(secret, unknown))
            assert (ignored.status_code, ignored.json()["outcome"]) == (200, "ignored")

            huge = b"{" + b" " * (2 * 1024 * 1024) + b"}"
            assert (await post(huge, signed(secret, huge))).status_code == 413
    assert fake_slack.calls_to("chat.postMessage") == []  # a company the bot does not know: nothing said


async def test_with_webhooks_outcomes_arrive_long_before_the_next_scheduled_look(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, bot_database: str
) -> None:
    settings = webhook_bot_settings(fake_slack, bot_database, sandbox.url, poll_interval_seconds=600)
    with RunningBot(settings, fake_slack) as bot:
        # The link used and the expense's outcome both reach the channel without any second look.
        _, refs = await company_with_xero(bot, fake_slack, client)
        began = time.monotonic()
        await submit(bot, fake_slack, refs, merchant="Quick Lunch")
        done = await thread_reply(fake_slack, "Quick Lunch", "is in the books", timeout=15)
        assert "*Quick Lunch*" in text_of(done)
        assert time.monotonic() - began < 10


@pytest.mark.timeout(150)
async def test_every_outcome_is_announced_once_through_dropped_deliveries_and_a_bot_down_for_10_s(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    company = await client.create_company("Faulty Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    refs = await ledger_refs(client, connection)
    channels = [f"C{n:04d}" for n in range(40)]
    for channel in channels:
        fake_slack.add_channel(channel, name=channel.lower())
    await client.configure_sandbox(webhook_failure_rate=0.5, webhook_retry_scale=0.0003, processing_delay_ms=600_000)

    async def accepted_while(channel_names: list[str]) -> None:
        """Expenses the bot had sent (recorded as accepted in its store) for these channels."""
        expenses = [make_expense(refs, merchantName=f"Shop {c}") for c in channel_names]
        answers = [await client.create_expenses(connection.id, [e]) for e in expenses]
        db = Database(database_url)
        await db.upgrade()
        async with db.session() as session:
            if await Companies(session).get(company.id) is None:
                await Companies(session).save(
                    CompanyRecord(id=company.id, name=company.name, registered_by="U1", created_at=utcnow())
                )
            for expense, answer, channel in zip(expenses, answers, channel_names, strict=True):
                session.add(_accepted(expense, answer.sync_batch_id, company.id, connection.id, channel))
        await db.dispose()

    def announced() -> int:
        return len(fake_slack.calls_to("chat.postMessage"))

    settings = webhook_bot_settings(fake_slack, database_url, sandbox.url, poll_interval_seconds=1.0)
    await accepted_while(channels[:20])
    with RunningBot(settings, fake_slack):
        await client.configure_sandbox(processing_delay_ms=0)
        await fake_slack.wait_for("chat.postMessage", count=10, timeout=60)
    # The bot is down: the other twenty end now, and their deliveries meet a closed port.
    await accepted_while(channels[20:])
    await asyncio.sleep(10)
    with RunningBot(settings, fake_slack):
        await fake_slack.wait_for(
            "chat.postMessage", count=40, where=lambda c: "is in the books" in text_of(c.params), timeout=90
        )
        await asyncio.sleep(2.0)  # time for any second announcement to show itself
    assert announced() >= 40
    keys = Counter(
        call.params["metadata"]["event_payload"]["key"]
        for call in fake_slack.calls_to("chat.postMessage")
        if not call.rate_limited
    )
    assert len(keys) == 40
    assert set(keys.values()) == {1}, [k for k, n in keys.items() if n > 1]
    states = await sandbox.call(lambda s: s.store.delivery_states())
    assert sum(states.values()) >= 40  # the webhooks were there, and fault-ridden


async def test_codat_webhooks_are_verified_with_svix(fake_slack: FakeSlack, bot_database: str) -> None:
    secret = "whsec_" + base64.b64encode(b"codat's signing key, 32 bytes..").decode()
    with running_fake_codat() as codat:
        settings = bot_settings(
            fake_slack,
            bot_database,
            None,
            sync_backend="codat",
            codat_api_key=codat.api_key,
            codat_api_url=codat.url,
            codat_webhook_secret=secret,
        )
        with RunningBot(settings, fake_slack) as bot:
            hook = f"{bot.url}/webhooks/codat"
            body = wire.dumps(
                {
                    "id": str(uuid.uuid4()),
                    "eventType": "client.rateLimit.reached",
                    "generatedDate": "2026-12-02T08:00:00Z",
                    "payload": {},
                }
            )
            msg_id = f"msg_{uuid.uuid4().hex}"
            now = datetime.now(UTC)
            svix_headers = {
                "svix-id": msg_id,
                "svix-timestamp": str(int(now.timestamp())),
                "svix-signature": SvixWebhook(secret).sign(msg_id, now, body.decode()),
            }
            async with httpx.AsyncClient() as http:
                answer = await http.post(hook, content=body, headers=svix_headers)
                assert (answer.status_code, answer.json()["outcome"]) == (200, "ignored")
                assert (await http.post(hook, content=body, headers=svix_headers)).status_code == 401  # replayed
                forged = signed("whsec_" + base64.b64encode(b"x" * 32).decode(), body)
                assert (await http.post(hook, content=body, headers=forged)).status_code == 401
                # Sync2Books' route is not served: this bot drives Codat and has no PUBLIC_URL.
                assert (await http.post(f"{bot.url}/webhooks/sync2books", content=body)).status_code in (404, 405)
