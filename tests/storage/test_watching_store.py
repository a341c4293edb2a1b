"""What the looks keep in the store, on SQLite and PostgreSQL: cursors, leases, the reference copy, webhook
subscriptions; and the tables as the migrations make them, states included."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from storage.db import Database
from storage.repositories import Leases, ReferenceCache, WatchCursors, WebhookSubscriptions
from storage.states import AnnouncementState, AuthLinkState, OutboxState, ReceiptState
from storage.tables import Announcement, utcnow


async def test_a_cursor_only_moves_forward(database: Database) -> None:
    now = utcnow()
    async with database.session() as session:
        assert await WatchCursors(session).position("sync_batches") is None
        await WatchCursors(session).advance("sync_batches", now)
    async with database.session() as session:
        await WatchCursors(session).advance("sync_batches", now - timedelta(minutes=1))  # a slower look, ending late
        assert await WatchCursors(session).position("sync_batches") == now
        await WatchCursors(session).advance("sync_batches", now + timedelta(seconds=5))
    async with database.session() as session:
        assert await WatchCursors(session).position("sync_batches") == now + timedelta(seconds=5)
        assert await WatchCursors(session).position("other") is None


async def test_a_lease_is_held_by_one_holder_until_it_runs_out_or_is_released(database: Database) -> None:
    soon = utcnow() + timedelta(minutes=1)
    async with database.session() as session:
        assert await Leases(session).take("batches", "bot-a", soon)
    async with database.session() as session:
        assert not await Leases(session).take("batches", "bot-b", soon)
        assert await Leases(session).take("batches", "bot-a", soon + timedelta(seconds=1))  # ours: kept
    async with database.session() as session:
        await Leases(session).release_all("bot-a")
    async with database.session() as session:
        assert await Leases(session).take("batches", "bot-b", soon)


async def test_the_reference_copy_is_replaced_and_told_fresh_or_stale(database: Database) -> None:
    async with database.session() as session:
        cache = ReferenceCache(session)
        assert await cache.get("n1", "accounts") is None
        await cache.store("n1", "accounts", '[{"id": "1"}]')
        await cache.store("c1", "company_config", "{}")
    async with database.session() as session:
        await ReferenceCache(session).store("n1", "accounts", '[{"id": "2"}]')
        await session.execute(
            text("UPDATE reference_cache SET refreshed_at = :old WHERE kind = 'company_config'"),
            {"old": utcnow() - timedelta(hours=1)},
        )
    async with database.session() as session:
        row = await ReferenceCache(session).get("n1", "accounts")
        assert row is not None
        assert row.items == '[{"id": "2"}]'
        assert await ReferenceCache(session).fresh(timedelta(minutes=10)) == {("n1", "accounts")}


async def test_a_webhook_subscription_is_saved_in_place_of_the_last_and_resealed(database: Database) -> None:
    async with database.session() as session:
        subscriptions = WebhookSubscriptions(session)
        await subscriptions.lock_for_subscribing()
        assert await subscriptions.get("sync2books") is None
        await subscriptions.save("sync2books", "sub-1", "https://bot.example/webhooks/sync2books", "plain:s1")
    async with database.session() as session:
        await WebhookSubscriptions(session).save("sync2books", "sub-2", "https://bot.example/webhooks/x", "plain:s2")
    async with database.session() as session:
        subscriptions = WebhookSubscriptions(session)
        record = await subscriptions.get("sync2books")
        assert record is not None
        assert (record.subscription_id, record.url, record.secret) == (
            "sub-2",
            "https://bot.example/webhooks/x",
            "plain:s2",
        )
        subscriptions.replace_secret(record, "fernet:sealed")
    async with database.session() as session:
        again = await WebhookSubscriptions(session).get("sync2books")
        assert again is not None
        assert again.secret == "fernet:sealed"


async def test_subscribing_is_one_process_at_a_time_on_postgresql(database: Database) -> None:
    order: list[str] = []

    async def subscribe(name: str, hold: float) -> None:
        async with database.session() as session:
            await WebhookSubscriptions(session).lock_for_subscribing()
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(subscribe("a", 0.5))
    await asyncio.sleep(0.2)
    await subscribe("b", 0)
    await first
    # PostgreSQL by its advisory lock; SQLite because the bot queues its units of work one at a time.
    assert order == ["a in", "a out", "b in", "b out"]


async def test_states_are_stored_as_the_words_they_always_were(database: Database) -> None:
    async with database.session() as session:
        session.add(Announcement(key="k1", channel_id="C1", kind="test", created_at=utcnow()))
    async with database.session() as session:
        word = (await session.execute(text("SELECT state FROM announcements"))).scalar_one()
        assert word == "pending"
        await session.execute(text("UPDATE announcements SET state = 'awaiting_member'"))
    async with database.session() as session:
        loaded = await session.get(Announcement, "k1")
        assert loaded is not None
        assert loaded.state is AnnouncementState.AWAITING_MEMBER
    assert [s.value for s in OutboxState] == ["waiting", "sending", "accepted", "rejected"]
    assert [s.value for s in ReceiptState] == ["waiting", "uploaded", "failed"]
    assert [s.value for s in AuthLinkState] == ["pending", "connected", "expired"]
    assert [s.value for s in AnnouncementState] == [
        "pending",
        "sending",
        "sent",
        "failed",
        "covered",
        "awaiting_member",
    ]


async def test_the_tables_are_what_the_migrations_make(database: Database) -> None:
    """The models need no migration the code does not ship (the state enums included)."""

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with database.engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == []
