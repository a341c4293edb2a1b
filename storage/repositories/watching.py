"""What keeps the scheduled looks and the inbound deliveries in order across restarts and processes:
how far a watcher has read, who makes this cycle's look, and which deliveries were already seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.repositories._sql import changed, insert_new
from storage.tables import ProcessedDelivery, WatchCursor, WatchLease, utcnow


class WatchCursors:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def position(self, name: str) -> datetime | None:
        """How far the watcher ``name`` has read (None: it has not read yet)."""
        cursor = await self.session.get(WatchCursor, name)
        return cursor.position if cursor else None

    async def advance(self, name: str, position: datetime) -> None:
        """Move the cursor on to ``position``; never back (a slower look may end after a faster one)."""
        cursor = await self.session.get(WatchCursor, name)
        if cursor is None:
            self.session.add(WatchCursor(name=name, position=position))
        elif cursor.position < position:
            cursor.position = position


class SeenDeliveries:
    """Inbound deliveries (Slack events, webhooks) already received: a retry or a replay finds itself here."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def first_time(self, key: str) -> bool:
        """True the first time a delivery key is seen; a Slack retry of it answers False."""
        return await insert_new(self.session, ProcessedDelivery, {"key": key, "received_at": utcnow()}, "key")

    async def seen(self, key: str) -> bool:
        return await self.session.get(ProcessedDelivery, key) is not None

    async def forget_older_than(self, moment: datetime) -> int:
        return await changed(self.session, delete(ProcessedDelivery).where(col(ProcessedDelivery.received_at) < moment))


class Leases:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, name: str, holder: str, until: datetime) -> bool:
        """Hold ``name`` until ``until`` if it is free, run out, or already ours; False if another holds it."""
        values = {"name": name, "holder": holder, "lease_until": until}
        if await insert_new(self.session, WatchLease, values, "name"):
            return True
        statement = (
            update(WatchLease)
            .where(
                col(WatchLease.name) == name,
                or_(col(WatchLease.lease_until) < utcnow(), col(WatchLease.holder) == holder),
            )
            .values(holder=holder, lease_until=until)
        )
        return await changed(self.session, statement) == 1

    async def release_all(self, holder: str) -> None:
        statement = update(WatchLease).where(col(WatchLease.holder) == holder).values(lease_until=utcnow())
        await self.session.execute(statement)
