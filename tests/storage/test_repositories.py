"""The bot's store on SQLite and PostgreSQL: migrations, first-writer-wins inserts, leases, dedupe."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database, async_url, head_revision
from storage.repositories import Announcements, AuthLinks, Companies, Connections, SeenDeliveries
from storage.tables import AuthLinkRecord, CompanyRecord, ConnectionRecord, utcnow
from tests.storage.claims import claimed_side_by_side


def company(company_id: str = "c1", name: str = "Acme Ltd") -> CompanyRecord:
    return CompanyRecord(id=company_id, name=name, registered_by="U1", created_at=utcnow())


async def test_migrations_reach_head_and_running_them_again_changes_nothing(database: Database) -> None:
    assert await database.current_revision() == head_revision() == "0006"
    await database.upgrade()
    assert await database.current_revision() == head_revision()
    async with database.session() as session:
        tables = await session.execute(
            text("SELECT count(*) FROM companies UNION ALL SELECT count(*) FROM announcements")
        )
        assert [row[0] for row in tables] == [0, 0]


def test_urls_get_the_async_drivers() -> None:
    assert async_url("sqlite:///data/bot.sqlite3") == "sqlite+aiosqlite:///data/bot.sqlite3"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert repr(Database("postgresql://u:secret@h/db")).count("secret") == 0


async def test_a_channel_is_linked_once_and_times_come_back_aware(database: Database) -> None:
    async with database.session() as session:
        await Companies(session).save(company())
        await Companies(session).save(company("c2", "Beta"))
    async with database.session() as session:
        companies = Companies(session)
        assert await companies.link_channel("C1", "c1", "U1")
        assert not await companies.link_channel("C1", "c2", "U2")  # first link wins
    async with database.session() as session:
        found = await Companies(session).for_channel("C1")
        assert found is not None
        assert found.name == "Acme Ltd"
        assert found.created_at.tzinfo is not None
        assert found.created_at.utcoffset() == timedelta(0)
        assert await Companies(session).channels_of("c1") == ["C1"]
        assert [c.id for c in await Companies(session).watched()] == ["c1"]
        assert [(ch, c.id) for ch, c in await Companies(session).linked_to_channels(["C1", "C9"])] == [("C1", "c1")]


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetimes"):
        async with database.session() as session:
            await Companies(session).save(CompanyRecord(id="x", name="x", registered_by="U", created_at=datetime.now()))


async def test_a_connection_status_moves_once(database: Database) -> None:
    async with database.session() as session:
        await Companies(session).save(company())
    record = ConnectionRecord(
        id="n1", company_id="c1", integration_key="XERO", platform_name="Xero", status="CONNECTED", observed_at=utcnow()
    )
    async with database.session() as session:
        assert await Connections(session).record_new(record)
        assert not await Connections(session).record_new(record.model_copy())
    async with database.session() as session:
        assert await Connections(session).change_status("n1", "CONNECTED", "ERROR", "token expired")
        assert not await Connections(session).change_status("n1", "CONNECTED", "ERROR", "token expired")
    async with database.session() as session:
        stored = await Connections(session).get("n1")
        assert stored is not None
        assert (stored.status, stored.error_message) == ("ERROR", "token expired")


async def test_an_auth_link_is_finished_once(database: Database) -> None:
    async with database.session() as session:
        await Companies(session).save(company())
        await AuthLinks(session).add(
            AuthLinkRecord(
                id="l1",
                company_id="c1",
                channel_id="C1",
                integration_key="XERO",
                platform_name="Xero",
                auth_url="http://x",
                requested_by="U1",
                expires_at=utcnow() + timedelta(minutes=30),
                created_at=utcnow(),
            )
        )
    async with database.session() as session:
        await AuthLinks(session).set_message(["l1"], "111.222")
        assert [link.id for link in await AuthLinks(session).pending()] == ["l1"]
    async with database.session() as session:
        assert await AuthLinks(session).finish("l1", "connected", "n1")
        assert not await AuthLinks(session).finish("l1", "expired")
    async with database.session() as session:
        (link,) = await AuthLinks(session).on_message("111.222")
        assert (link.state, link.connection_id) == ("connected", "n1")
        assert await AuthLinks(session).pending() == []


async def test_an_announcement_is_owed_once_and_claimed_under_a_lease(database: Database) -> None:
    async with database.session() as session:
        owed = Announcements(session)
        assert await owed.owe("connection:n1:ERROR", "C1", "connection_error", {"name": "Xero"})
        assert not await owed.owe("connection:n1:ERROR", "C1", "connection_error", {"name": "Xero"})
    async with database.session() as session:
        (claimed,) = await Announcements(session).claim(limit=10, lease=timedelta(minutes=1))
        assert (claimed.key, claimed.state, claimed.attempts, claimed.payload) == (
            "connection:n1:ERROR",
            "sending",
            1,
            {"name": "Xero"},
        )
    async with database.session() as session:
        assert await Announcements(session).claim(limit=10, lease=timedelta(minutes=1)) == []  # leased
        await session.execute(text("UPDATE announcements SET lease_until = :past"), {"past": utcnow() - timedelta(1)})
    async with database.session() as session:
        (again,) = await Announcements(session).claim(limit=10, lease=timedelta(minutes=1))  # lease ran out
        assert again.attempts == 2
        await Announcements(session).sent(again.key, "123.456")
    async with database.session() as session:
        assert await Announcements(session).claim(limit=10, lease=timedelta(minutes=1)) == []
        stored = await Announcements(session).get("connection:n1:ERROR")
        assert stored is not None
        assert (stored.state, stored.message_ts) == ("sent", "123.456")
        assert stored.sent_at is not None


async def test_concurrent_claims_never_take_the_same_announcement(database: Database) -> None:
    async with database.session() as session:
        for n in range(40):
            await Announcements(session).owe(f"k{n:02d}", "C1", "test", {})

    async def claim(session: AsyncSession) -> list[str]:
        return [a.key for a in await Announcements(session).claim(limit=3, lease=timedelta(minutes=5))]

    everything = await claimed_side_by_side(database, claim)
    assert sorted(everything) == [f"k{n:02d}" for n in range(40)]


async def test_a_delivery_is_processed_the_first_time_only(database: Database) -> None:
    async with database.session() as session:
        assert await SeenDeliveries(session).first_time("event:Ev1")
        assert not await SeenDeliveries(session).first_time("event:Ev1")
    async with database.session() as session:
        assert await SeenDeliveries(session).forget_older_than(utcnow() + timedelta(seconds=1)) == 1
        assert await SeenDeliveries(session).first_time("event:Ev1")


async def test_a_company_s_connected_connections_are_the_connected_ones(database: Database) -> None:
    async with database.session() as session:
        await Companies(session).save(company())
        for connection_id, status in (("n1", "CONNECTED"), ("n2", "ERROR"), ("n3", "CONNECTED")):
            record = ConnectionRecord(
                id=connection_id,
                company_id="c1",
                integration_key="XERO",
                platform_name="Xero",
                status=status,
                observed_at=utcnow(),
            )
            assert await Connections(session).record_new(record)
    async with database.session() as session:
        assert sorted(c.id for c in await Connections(session).connected_of("c1")) == ["n1", "n3"]
        assert await Connections(session).connected_of("c2") == []
