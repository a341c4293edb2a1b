"""Three bot processes on one PostgreSQL database share the watching: one look per cycle, each outcome once."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from storage.db import Database
from storage.repositories import Companies
from storage.tables import CompanyRecord, utcnow
from sync2books.models import IntegrationKey
from tests.bot.test_exactly_once import _accepted
from tests.support.bot import RunningBot, bot_settings
from tests.support.databases import postgres_database
from tests.support.expenses import ledger_refs, make_expense
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer, connect
from tests.support.sandbox_client import SandboxClient

LISTING = "GET /sync-batches"


@pytest.mark.timeout(150)
async def test_three_processes_make_one_look_per_cycle_and_announce_each_outcome_once(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient
) -> None:
    company = await client.create_company("Shared Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    refs = await ledger_refs(client, connection)
    await client.configure_sandbox(processing_delay_ms=600_000)
    channels = [f"C{n:04d}" for n in range(60)]
    for channel in channels:
        fake_slack.add_channel(channel, name=channel.lower())
    expenses = [make_expense(refs, merchantName=f"Shop {n}") for n in range(60)]
    accepted = [await client.create_expenses(connection.id, [e]) for e in expenses]

    interval = 0.5
    async with postgres_database() as url:
        db = Database(url)
        await db.upgrade()
        async with db.session() as session:
            await Companies(session).save(
                CompanyRecord(id=company.id, name=company.name, registered_by="U1", created_at=utcnow())
            )
            for expense, answer, channel in zip(expenses, accepted, channels, strict=True):
                session.add(_accepted(expense, answer.sync_batch_id, company.id, connection.id, channel))
        await db.dispose()

        settings = bot_settings(fake_slack, url, sandbox.url, poll_interval_seconds=interval)
        with RunningBot(settings, fake_slack), RunningBot(settings, fake_slack), RunningBot(settings, fake_slack):
            await asyncio.sleep(1.0)  # all three up and looking
            before = sandbox.requests[LISTING]
            await asyncio.sleep(6.0)
            looks = sandbox.requests[LISTING] - before
            await client.configure_sandbox(processing_delay_ms=0)
            await fake_slack.wait_for(
                "chat.postMessage", count=60, where=lambda c: "is in the books" in text_of(c.params), timeout=90
            )
            await asyncio.sleep(2.0)  # time for any second announcement to show itself
    cycles = 6.0 / interval
    # One look a cycle among the three (each look one listing while nothing changes), not three.
    assert looks <= cycles * 1.5, looks
    keys = Counter(
        call.params["metadata"]["event_payload"]["key"]
        for call in fake_slack.calls_to("chat.postMessage")
        if not call.rate_limited
    )
    assert len(keys) == 60
    assert set(keys.values()) == {1}, [k for k, n in keys.items() if n > 1]
