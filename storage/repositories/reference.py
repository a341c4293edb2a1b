"""The local copy of each connection's reference data (and each company's defaults), as last fetched."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import ReferenceCacheRecord, utcnow


class ReferenceCache:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, owner_id: str, kind: str) -> ReferenceCacheRecord | None:
        return await self.session.get(ReferenceCacheRecord, (owner_id, kind))

    async def store(self, owner_id: str, kind: str, items: str) -> None:
        """The list (wire JSON) as fetched now, in place of the old copy."""
        await self.session.merge(
            ReferenceCacheRecord(connection_id=owner_id, kind=kind, items=items, refreshed_at=utcnow())
        )

    async def fresh(self, max_age: timedelta) -> set[tuple[str, str]]:
        """(owner, kind) of every copy refreshed within ``max_age``."""
        rows = (await self.session.execute(select(ReferenceCacheRecord))).scalars().all()
        return {(row.connection_id, row.kind) for row in rows if utcnow() - row.refreshed_at <= max_age}
