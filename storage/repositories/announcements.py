"""Messages the bot owes its channels: owed once, claimed under a lease, sent, summarized or given up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.repositories._sql import Backlog, backlog, changed, insert_for, insert_new, is_postgres
from storage.states import AnnouncementState
from storage.tables import Announcement, utcnow


class ClaimLost(Exception):
    """Announcements claimed for sending were taken by another sender meanwhile (their lease ran out)."""


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
            "state": AnnouncementState.COVERED if covered else AnnouncementState.PENDING,
            "attempts": 0,
            "created_at": utcnow(),
        }
        return await insert_new(self.session, Announcement, values, "key")

    async def owe_many(self, rows: Sequence[dict[str, Any]], *, covered: bool = False) -> set[str]:
        """``owe`` for many facts in one statement; answers the keys that were new (the rest were said)."""
        if not rows:
            return set()
        now = utcnow()
        state = AnnouncementState.COVERED if covered else AnnouncementState.PENDING
        values = [{**row, "state": state, "attempts": 0, "created_at": now} for row in rows]
        insert = insert_for(self.session)
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
            col(Announcement.state) == AnnouncementState.PENDING,
            (col(Announcement.state).in_((AnnouncementState.SENDING, AnnouncementState.AWAITING_MEMBER)))
            & (col(Announcement.lease_until) < now),
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
                col(Announcement.state) == AnnouncementState.PENDING,
                col(Announcement.attempts) == 0,
            )
            .order_by(col(Announcement.created_at))
            .limit(limit)
        )
        return await self._take(statement, now + lease)

    async def _take(self, statement: Select[Announcement], until: datetime) -> list[Announcement]:
        """The announcements selected, claimed until ``until``; on PostgreSQL locked with SKIP LOCKED."""
        if is_postgres(self.session):
            statement = statement.with_for_update(skip_locked=True)
        claimed = list((await self.session.execute(statement)).scalars())
        for announcement in claimed:
            announcement.state = AnnouncementState.SENDING
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
            .where(col(Announcement.key).in_(keys), col(Announcement.state) == AnnouncementState.SENDING)
            .values(state=AnnouncementState.COVERED, lease_until=None)
        )
        if await changed(self.session, covering) != len(keys):
            raise ClaimLost(key)
        now = utcnow()
        summary = Announcement(
            key=key,
            channel_id=claimed[0].channel_id,
            kind=kind,
            payload=payload,
            state=AnnouncementState.SENDING,
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
        await self._set(key, state=AnnouncementState.SENT, message_ts=message_ts, sent_at=utcnow(), lease_until=None)

    async def release(self, key: str) -> None:
        """Send it again later (a fault on the way): back to pending."""
        await self._set(key, state=AnnouncementState.PENDING, lease_until=None)

    async def await_member(self, key: str, until: datetime) -> None:
        """The bot is not in the channel: kept owed, sent when it is invited, or tried again at ``until``."""
        await self._set(key, state=AnnouncementState.AWAITING_MEMBER, lease_until=until)

    async def resume_channel(self, channel_id: str) -> int:
        """The bot was invited to the channel: what waited for it there is due now."""
        statement = (
            update(Announcement)
            .where(
                col(Announcement.channel_id) == channel_id,
                col(Announcement.state) == AnnouncementState.AWAITING_MEMBER,
            )
            .values(state=AnnouncementState.PENDING, lease_until=None)
        )
        return await changed(self.session, statement)

    async def give_up(self, key: str) -> None:
        await self._set(key, state=AnnouncementState.FAILED, lease_until=None)

    async def get(self, key: str) -> Announcement | None:
        return await self.session.get(Announcement, key)

    async def waiting(self) -> Backlog:
        """What is still to be sent (pending or being sent), and the oldest of it."""
        due = col(Announcement.state).in_((AnnouncementState.PENDING, AnnouncementState.SENDING))
        return await backlog(self.session, col(Announcement.created_at), due)
