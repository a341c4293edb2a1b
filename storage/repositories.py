"""Queries over the bot's tables, one small class per aggregate, all inside the caller's unit of work.

A service opens ``Database.session()`` and builds the repositories it needs on that session, so that
a state change and the announcement it owes are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Select, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.tables import (
    Announcement,
    AuthLinkRecord,
    ChannelLink,
    CompanyRecord,
    ConnectionRecord,
    ProcessedDelivery,
    WatchLease,
    utcnow,
)


def is_postgres(session: AsyncSession) -> bool:
    """Row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer at a time anyway."""
    return _dialect(session) == "postgresql"


def _dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None
    return bind.dialect.name


async def _changed(session: AsyncSession, statement: Executable) -> int:
    """Rows an UPDATE, DELETE or INSERT touched."""
    result = await session.execute(statement)
    return int(cast("CursorResult[Any]", result).rowcount)


async def _insert_new(session: AsyncSession, table: Any, values: dict[str, Any], key: str) -> bool:
    """Insert unless the key exists; True when this call inserted (the first one wins, races included)."""
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    return await _changed(session, insert(table).values(**values).on_conflict_do_nothing(index_elements=[key])) == 1


class Companies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, company: CompanyRecord) -> None:
        await self.session.merge(company)
        # Written now: rows that point at the company (links, connections) may follow in this unit of work.
        await self.session.flush()

    async def get(self, company_id: str) -> CompanyRecord | None:
        return await self.session.get(CompanyRecord, company_id)

    async def link_channel(self, channel_id: str, company_id: str, user_id: str) -> bool:
        """Link the channel; False when it is already linked (to this company or another)."""
        values = {"channel_id": channel_id, "company_id": company_id, "linked_by": user_id, "linked_at": utcnow()}
        return await _insert_new(self.session, ChannelLink, values, "channel_id")

    async def for_channel(self, channel_id: str) -> CompanyRecord | None:
        statement = (
            select(CompanyRecord)
            .join(ChannelLink, col(ChannelLink.company_id) == col(CompanyRecord.id))
            .where(col(ChannelLink.channel_id) == channel_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def linked_by(self, channel_id: str) -> str | None:
        """Who linked the channel to its company: the admin to tell what the channel needs."""
        statement = select(col(ChannelLink.linked_by)).where(col(ChannelLink.channel_id) == channel_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def channels_of(self, company_id: str) -> list[str]:
        statement = select(col(ChannelLink.channel_id)).where(col(ChannelLink.company_id) == company_id)
        return list((await self.session.execute(statement)).scalars())

    async def linked_to_channels(self, channel_ids: Sequence[str]) -> list[tuple[str, CompanyRecord]]:
        """(channel, company) for each of these channels that is linked."""
        if not channel_ids:
            return []
        statement = (
            select(col(ChannelLink.channel_id), CompanyRecord)
            .join(CompanyRecord, col(ChannelLink.company_id) == col(CompanyRecord.id))
            .where(col(ChannelLink.channel_id).in_(channel_ids))
            .order_by(col(CompanyRecord.name))
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def watched(self) -> list[CompanyRecord]:
        """Companies linked to at least one channel: the ones whose news someone will read."""
        linked = select(col(ChannelLink.company_id))
        statement = select(CompanyRecord).where(col(CompanyRecord.id).in_(linked))
        return list((await self.session.execute(statement)).scalars())


class Connections:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_company(self, company_id: str) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.company_id) == company_id)
        return list((await self.session.execute(statement)).scalars())

    async def for_companies(self, company_ids: Sequence[str]) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.company_id).in_(company_ids))
        return list((await self.session.execute(statement)).scalars())

    async def get(self, connection_id: str) -> ConnectionRecord | None:
        return await self.session.get(ConnectionRecord, connection_id)

    async def connected(self) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.status) == "CONNECTED")
        return list((await self.session.execute(statement)).scalars())

    async def record_new(self, record: ConnectionRecord) -> bool:
        """Remember a connection seen for the first time; False if another look got there first."""
        return await _insert_new(self.session, ConnectionRecord, record.model_dump(), "id")

    async def change_status(self, connection_id: str, expected: str, status: str, error_message: str | None) -> bool:
        """Move from ``expected`` to ``status``; False if someone else already moved it (no double news)."""
        statement = (
            update(ConnectionRecord)
            .where(col(ConnectionRecord.id) == connection_id, col(ConnectionRecord.status) == expected)
            .values(status=status, error_message=error_message, observed_at=utcnow())
        )
        return await _changed(self.session, statement) == 1


class AuthLinks:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, link: AuthLinkRecord) -> None:
        self.session.add(link)

    async def set_message(self, link_ids: Sequence[str], message_ts: str) -> None:
        statement = update(AuthLinkRecord).where(col(AuthLinkRecord.id).in_(link_ids)).values(message_ts=message_ts)
        await self.session.execute(statement)

    async def pending(self) -> list[AuthLinkRecord]:
        statement = (
            select(AuthLinkRecord)
            .where(col(AuthLinkRecord.state) == "pending")
            .order_by(col(AuthLinkRecord.created_at))
        )
        return list((await self.session.execute(statement)).scalars())

    async def get(self, link_id: str) -> AuthLinkRecord | None:
        return await self.session.get(AuthLinkRecord, link_id)

    async def on_message(self, message_ts: str) -> list[AuthLinkRecord]:
        statement = select(AuthLinkRecord).where(col(AuthLinkRecord.message_ts) == message_ts)
        return list((await self.session.execute(statement)).scalars())

    async def finish(self, link_id: str, state: str, connection_id: str | None = None) -> bool:
        """pending → ``state``; False if it was no longer pending (another look finished it)."""
        statement = (
            update(AuthLinkRecord)
            .where(col(AuthLinkRecord.id) == link_id, col(AuthLinkRecord.state) == "pending")
            .values(state=state, connection_id=connection_id)
        )
        return await _changed(self.session, statement) == 1


class ClaimLost(Exception):
    """Announcements claimed for sending were taken by another sender meanwhile (their lease ran out)."""


# An announcement for a channel the bot is not in: owed, not sent, until the bot is invited there.
AWAITING_MEMBER = "awaiting_member"


class Announcements:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owe(
        self, key: str, channel_id: str, kind: str, payload: dict[str, Any], *, covered: bool = False
    ) -> bool:
        """Record a message owed to a channel; False if this fact was already recorded (it is said once).

        ``covered``: the fact is said by another message (a summary), so nothing is sent for it alone.
        """
        values = {
            "key": key,
            "channel_id": channel_id,
            "kind": kind,
            "payload": payload,
            "state": "covered" if covered else "pending",
            "attempts": 0,
            "created_at": utcnow(),
        }
        return await _insert_new(self.session, Announcement, values, "key")

    async def owe_many(self, rows: Sequence[dict[str, Any]], *, covered: bool = False) -> set[str]:
        """``owe`` for many facts in one statement; answers the keys that were new (the rest were said)."""
        if not rows:
            return set()
        now = utcnow()
        values = [
            {**row, "state": "covered" if covered else "pending", "attempts": 0, "created_at": now} for row in rows
        ]
        insert = pg_insert if _dialect(self.session) == "postgresql" else sqlite_insert
        inserted: set[str] = set()
        for start in range(0, len(values), 500):
            statement = (
                insert(Announcement)
                .values(values[start : start + 500])
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(col(Announcement.key))
            )
            inserted |= set((await self.session.execute(statement)).scalars())
        return inserted

    async def claim(self, *, limit: int, lease: timedelta) -> list[Announcement]:
        """Take up to ``limit`` announcements to send: pending ones, and ones whose sender's lease ran out.

        On PostgreSQL the rows are locked with SKIP LOCKED, so two processes never claim the same one.
        """
        now = utcnow()
        claimable = or_(
            col(Announcement.state) == "pending",
            (col(Announcement.state).in_(("sending", AWAITING_MEMBER))) & (col(Announcement.lease_until) < now),
        )
        statement = select(Announcement).where(claimable).order_by(col(Announcement.created_at)).limit(limit)
        return await self._take(statement, now + lease)

    async def claim_new(self, channel_id: str, kind: str, *, limit: int, lease: timedelta) -> list[Announcement]:
        """``claim`` for one channel and kind, of those never tried yet (none of them can be in the channel)."""
        if limit <= 0:
            return []
        now = utcnow()
        statement = (
            select(Announcement)
            .where(
                col(Announcement.channel_id) == channel_id,
                col(Announcement.kind) == kind,
                col(Announcement.state) == "pending",
                col(Announcement.attempts) == 0,
            )
            .order_by(col(Announcement.created_at))
            .limit(limit)
        )
        return await self._take(statement, now + lease)

    async def _take(self, statement: Select[Announcement], until: datetime) -> list[Announcement]:
        """The announcements selected, claimed until ``until``; on PostgreSQL locked with SKIP LOCKED."""
        if _dialect(self.session) == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        claimed = list((await self.session.execute(statement)).scalars())
        for announcement in claimed:
            announcement.state = "sending"
            announcement.attempts += 1
            announcement.lease_until = until
        await self.session.flush()
        return claimed

    async def summarize(
        self, claimed: Sequence[Announcement], key: str, kind: str, payload: dict[str, Any], *, lease: timedelta
    ) -> Announcement:
        """Claimed announcements said instead by one summary, owed and claimed in their place (one unit of work).

        Raises ``ClaimLost`` (and so rolls the unit of work back) when a claim was lost meanwhile.
        """
        keys = [announcement.key for announcement in claimed]
        covering = (
            update(Announcement)
            .where(col(Announcement.key).in_(keys), col(Announcement.state) == "sending")
            .values(state="covered", lease_until=None)
        )
        if await _changed(self.session, covering) != len(keys):
            raise ClaimLost(key)
        now = utcnow()
        summary = Announcement(
            key=key,
            channel_id=claimed[0].channel_id,
            kind=kind,
            payload=payload,
            state="sending",
            attempts=1,
            lease_until=now + lease,
            created_at=now,
        )
        self.session.add(summary)
        await self.session.flush()
        return summary

    async def _set(self, key: str, **values: Any) -> None:
        await self.session.execute(update(Announcement).where(col(Announcement.key) == key).values(**values))

    async def sent(self, key: str, message_ts: str | None) -> None:
        await self._set(key, state="sent", message_ts=message_ts, sent_at=utcnow(), lease_until=None)

    async def release(self, key: str) -> None:
        """Send it again later (a fault on the way): back to pending."""
        await self._set(key, state="pending", lease_until=None)

    async def await_member(self, key: str, until: datetime) -> None:
        """The bot is not in the channel: kept owed, sent when it is invited, or tried again at ``until``."""
        await self._set(key, state=AWAITING_MEMBER, lease_until=until)

    async def resume_channel(self, channel_id: str) -> int:
        """The bot was invited to the channel: what waited for it there is due now."""
        statement = (
            update(Announcement)
            .where(col(Announcement.channel_id) == channel_id, col(Announcement.state) == AWAITING_MEMBER)
            .values(state="pending", lease_until=None)
        )
        return await _changed(self.session, statement)

    async def give_up(self, key: str) -> None:
        await self._set(key, state="failed", lease_until=None)

    async def get(self, key: str) -> Announcement | None:
        return await self.session.get(Announcement, key)


class SeenDeliveries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, key: str) -> bool:
        """True the first time a delivery key is seen; a Slack retry of it answers False."""
        return await _insert_new(self.session, ProcessedDelivery, {"key": key, "received_at": utcnow()}, "key")

    async def seen(self, key: str) -> bool:
        return await self.session.get(ProcessedDelivery, key) is not None

    async def forget_older_than(self, moment: datetime) -> int:
        return await _changed(
            self.session, delete(ProcessedDelivery).where(col(ProcessedDelivery.received_at) < moment)
        )


class Leases:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str, holder: str, until: datetime) -> bool:
        """Hold ``name`` until ``until`` if it is free, run out, or already ours; False if another holds it."""
        values = {"name": name, "holder": holder, "lease_until": until}
        if await _insert_new(self.session, WatchLease, values, "name"):
            return True
        statement = (
            update(WatchLease)
            .where(
                col(WatchLease.name) == name,
                or_(col(WatchLease.lease_until) < utcnow(), col(WatchLease.holder) == holder),
            )
            .values(holder=holder, lease_until=until)
        )
        return await _changed(self.session, statement) == 1

    async def release_all(self, holder: str) -> None:
        statement = update(WatchLease).where(col(WatchLease.holder) == holder).values(lease_until=utcnow())
        await self.session.execute(statement)
