"""Each outcome announced once: across a crash between the Slack post and its record, and across two bot
processes sharing one PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.services.announcements import AnnouncementSender, Flood
from bot.slack import SlackNotifier, web_client
from storage.db import Database
from storage.repositories import Announcements, Companies
from storage.tables import CompanyRecord, OutboxExpense, utcnow
from sync2books import wire
from sync2books.models import IntegrationKey
from tests.support.bot import CHANNEL, RunningBot, bot_settings
from tests.support.databases import postgres_database
from tests.support.expenses import ledger_refs, make_expense
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, text_of
from tests.support.sandbox import SandboxServer, connect
from tests.support.sandbox_client import SandboxClient


async def test_a_crash_between_the_post_and_its_record_still_announces_once(
    fake_slack: FakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()
    notifier = SlackNotifier(web_client(BOT_TOKEN, fake_slack.api_url))
    payload = {
        "company_name": "Acme Ltd",
        "software_name": "Xero",
        "status": "ERROR",
        "error_message": "expired",
        "command": "xero",
    }
    async with db.session() as session:
        await Announcements(session).owe("connection:n1:ERROR:t", CHANNEL, "connection_lost", payload)

    original = Announcements.sent

    async def the_process_dies(self: Announcements, key: str, ts: str | None) -> None:
        raise RuntimeError("SIGKILL: the post went out, its record never did")

    monkeypatch.setattr(Announcements, "sent", the_process_dies)
    with pytest.raises(RuntimeError, match="SIGKILL"):
        await AnnouncementSender(db, notifier, pace=0).send_due()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    monkeypatch.setattr(Announcements, "sent", original)

    # The next start: the lease has run out, the announcement is claimed again …
    async with db.session() as session:
        await session.execute(text("UPDATE announcements SET lease_until = :past"), {"past": utcnow() - timedelta(1)})
    assert await AnnouncementSender(db, notifier, pace=0).send_due() == 1
    # … and found in the channel by its metadata stamp, so it is recorded, not posted again.
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    async with db.session() as session:
        stored = await Announcements(session).get("connection:n1:ERROR:t")
    assert stored is not None
    assert (stored.state, stored.message_ts) == ("sent", fake_slack.messages(CHANNEL)[0]["ts"])
    await db.dispose()


async def test_two_bot_processes_on_postgresql_announce_each_of_200_outcomes_once(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient
) -> None:
    company = await client.create_company("Busy Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    refs = await ledger_refs(client, connection)
    await client.configure_sandbox(processing_delay_ms=600_000)
    channels = [f"C{n:04d}" for n in range(200)]
    for channel in channels:
        fake_slack.add_channel(channel, name=channel.lower())
    expenses = [make_expense(refs, merchantName=f"Shop {n}") for n in range(200)]
    accepted = [await client.create_expenses(connection.id, [e]) for e in expenses]

    async with postgres_database() as url:
        db = Database(url)
        await db.upgrade()
        now = utcnow()
        async with db.session() as session:
            await Companies(session).save(
                CompanyRecord(id=company.id, name=company.name, registered_by="U1", created_at=now)
            )
            for expense, answer, channel in zip(expenses, accepted, channels, strict=True):
                session.add(_accepted(expense, answer.sync_batch_id, company.id, connection.id, channel))
        await db.dispose()

        settings = bot_settings(fake_slack, url, sandbox.url, poll_interval_seconds=0.3)
        with RunningBot(settings, fake_slack), RunningBot(settings, fake_slack):
            await client.configure_sandbox(processing_delay_ms=0)
            await fake_slack.wait_for(
                "chat.postMessage", count=200, where=lambda c: "is in the books" in text_of(c.params), timeout=120
            )
            await asyncio.sleep(2.0)  # time for any second announcement to show itself
    keys = Counter(
        call.params["metadata"]["event_payload"]["key"]
        for call in fake_slack.calls_to("chat.postMessage")
        if not call.rate_limited
    )
    assert len(keys) == 200
    assert set(keys.values()) == {1}, [k for k, n in keys.items() if n > 1]


def _accepted(expense: Any, batch_id: str, company_id: str, connection_id: str, channel: str) -> OutboxExpense:
    now = utcnow()
    return OutboxExpense(
        id=expense.id,
        company_id=company_id,
        connection_id=connection_id,
        channel_id=channel,
        submitted_by="U1",
        submission_key=f"test:{uuid.uuid4()}",
        body=wire.dumps(expense, exclude_none=True).decode(),
        currency=expense.currency,
        total="12.00",
        merchant=expense.merchant_name,
        state="accepted",
        status="QUEUED",
        sync_batch_id=batch_id,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def _outcome(n: int, status: str = "SYNCED") -> dict[str, Any]:
    return {
        "expense_id": f"e{n}",
        "batch_id": f"b{n}",
        "user_id": "UADMIN",
        "merchant": f"Shop {n}",
        "total": "£1.00",
        "status": status,
        "accounting_id": f"bill-{n}" if status == "SYNCED" else None,
        "error_message": None if status == "SYNCED" else "Account acc-gone does not exist.",
        "thread_ts": None,
    }


async def test_outcomes_waiting_for_one_channel_go_out_as_one_summary_each_said_once(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """Told one by one (webhooks), outcomes pile up behind a channel's pace: what waits is said in one message."""
    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()
    fake_slack.add_channel("C_OTHER", name="other")
    async with db.session() as session:
        announcements = Announcements(session)
        for n in range(5):
            await announcements.owe(
                f"outcome:e{n}:b{n}", CHANNEL, "expense_outcome", _outcome(n, "FAILED" if n == 3 else "SYNCED")
            )
        await announcements.owe("outcome:e9:b9", "C_OTHER", "expense_outcome", _outcome(9))  # alone in its channel
        # Tried before: it may be in the channel already, unrecorded, so it is never folded into a summary.
        await announcements.owe("outcome:e7:b7", CHANNEL, "expense_outcome", _outcome(7))
        await session.execute(text("UPDATE announcements SET attempts = 1 WHERE key = 'outcome:e7:b7'"))
    notifier = SlackNotifier(web_client(BOT_TOKEN, fake_slack.api_url))
    sender = AnnouncementSender(db, notifier, pace=0, floods={"expense_outcome": Flood("outcome_summary", 3)})

    assert await sender.send_due() == 3
    assert await sender.send_due() == 0
    said = [call.params["text"] for call in fake_slack.calls_to("chat.postMessage")]
    assert sorted(said) == sorted(
        [
            "5 expenses finished syncing: 4 in the books, 1 failed.",
            "Shop 7 (£1.00) is in the books as `bill-7`.",
            "Shop 9 (£1.00) is in the books as `bill-9`.",
        ]
    ), said
    (summary,) = [m for m in fake_slack.messages(CHANNEL) if "finished syncing" in text_of(m)]
    assert "Fix and retry" in str(summary["blocks"])  # the failed one keeps its button
    async with db.session() as session:
        states = dict((await session.execute(text("SELECT key, state FROM announcements"))).all())
    assert states == {
        **{f"outcome:e{n}:b{n}": "covered" for n in range(5)},
        "outcome:e7:b7": "sent",
        "outcome:e9:b9": "sent",
        "summary:outcome:e0:b0": "sent",
    }
    await db.dispose()


async def test_outcomes_arriving_while_the_channel_waits_its_turn_join_the_summary(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()

    async def owe(numbers: range) -> None:
        async with db.session() as session:
            for n in numbers:
                await Announcements(session).owe(f"outcome:e{n}:b{n}", CHANNEL, "expense_outcome", _outcome(n))

    await owe(range(2))
    notifier = SlackNotifier(web_client(BOT_TOKEN, fake_slack.api_url))
    sender = AnnouncementSender(db, notifier, pace=1.0, floods={"expense_outcome": Flood("outcome_summary", 3)})
    sending = asyncio.create_task(sender.send_due())
    await fake_slack.wait_for("chat.postMessage")  # the first goes at once; the second waits a second …
    await owe(range(2, 6))  # … while four more arrive, one by one, as webhooks bring them
    assert await sending == 2
    said = [call.params["text"] for call in fake_slack.calls_to("chat.postMessage")]
    assert said == [
        "Shop 0 (£1.00) is in the books as `bill-0`.",
        "5 expenses finished syncing: 5 in the books, 0 failed.",
    ]
    await db.dispose()
