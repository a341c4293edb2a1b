"""A local copy of each connection's reference data, so a Slack options request never waits on the API.

Slack gives an options request three seconds and no second chance. Options are answered from the copy in
the database (milliseconds); a copy older than ``STALE_AFTER`` is refreshed in the background, and a missing
one is fetched in the background and meanwhile answers nothing rather than nothing in time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from apiclient import wire
from bot.backend import REFERENCE_MODELS, CompanyConfig, ExpenseSyncBackend, ExpenseSyncError, ReferenceKind, WireModel
from storage.db import Database
from storage.repositories import Connections, ReferenceCache
from storage.tables import ReferenceCacheRecord, utcnow

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)
MAX_OPTIONS = 100
CONFIG_KIND = "company_config"


def _matches(item: WireModel, query: str) -> bool:
    if not query:
        return True
    words = [
        str(getattr(item, "name", "")),
        str(getattr(item, "nominal_code", "") or ""),
        str(getattr(item, "code", "")),
    ]
    return any(query in word.lower() for word in words)


class ReferenceData:
    def __init__(self, db: Database, backend: ExpenseSyncBackend) -> None:
        self._db = db
        self._backend = backend
        self._refreshing: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def _row(self, owner_id: str, kind: str) -> ReferenceCacheRecord | None:
        async with self._db.session() as session:
            return await ReferenceCache(session).get(owner_id, kind)

    async def items(self, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        """What the copy holds now (refreshing it in the background when old or missing)."""
        row = await self._row(connection_id, kind.value)
        if row is None or utcnow() - row.refreshed_at > STALE_AFTER:
            self.refresh_soon(connection_id, [kind])
        if row is None:
            return []
        model = REFERENCE_MODELS[kind]
        return [model.model_validate(item) for item in wire.loads(row.items)]

    async def options(
        self, connection_id: str, kind: ReferenceKind, query: str, *, where: Any = None
    ) -> list[WireModel]:
        """At most 100 items whose name (or code) contains what the user typed, in the ledger's order."""
        wanted = query.strip().lower()
        found = [item for item in await self.items(connection_id, kind) if _matches(item, wanted)]
        if where is not None:
            found = [item for item in found if where(item)]
        return found[:MAX_OPTIONS]

    async def name_of(self, connection_id: str, kind: ReferenceKind, item_id: str) -> str | None:
        for item in await self.items(connection_id, kind):
            if getattr(item, "id", None) == item_id:
                return str(getattr(item, "name", item_id))
        return None

    def refresh_soon(self, connection_id: str, kinds: Iterable[ReferenceKind] = tuple(ReferenceKind)) -> None:
        """Start background refreshes (one at a time per list) and return at once."""
        for kind in kinds:
            key = (connection_id, kind.value)
            running = self._refreshing.get(key)
            if running is not None and not running.done():
                continue
            self._refreshing[key] = asyncio.create_task(self._refresh_logged(connection_id, kind))

    async def _refresh_logged(self, connection_id: str, kind: ReferenceKind) -> None:
        try:
            await self.refresh(connection_id, kind)
        except ExpenseSyncError as exc:
            log.warning(
                "could not refresh %s of connection %s (%s); the old copy stays", kind.value, connection_id, exc
            )

    async def refresh(self, connection_id: str, kind: ReferenceKind) -> None:
        async with self._db.session() as session:
            connection = await Connections(session).get(connection_id)
        if connection is None:
            return  # not observed yet: the watcher records it on its next look, and the next refresh finds it
        items = await self._backend.reference(connection.company_id, connection_id, kind)
        await self._store(connection_id, kind.value, wire.dumps(items).decode())

    async def _store(self, owner_id: str, kind: str, items: str) -> None:
        async with self._db.session() as session:
            await ReferenceCache(session).store(owner_id, kind, items)

    async def refresh_stale(self, connection_ids: Iterable[str]) -> int:
        """The scheduled job: bring every old list of these connections up to date; answers how many."""
        refreshed = 0
        async with self._db.session() as session:
            fresh = await ReferenceCache(session).fresh(STALE_AFTER)
        for connection_id in connection_ids:
            for kind in ReferenceKind:
                if (connection_id, kind.value) not in fresh:
                    try:
                        await self.refresh(connection_id, kind)
                        refreshed += 1
                    except ExpenseSyncError as exc:
                        log.warning("could not refresh %s of %s (%s)", kind.value, connection_id, exc)
        return refreshed

    # ------------------------------------------------------------------ company defaults, cached the same way

    async def company_config(self, company_id: str) -> CompanyConfig:
        row = await self._row(company_id, CONFIG_KIND)
        if row is None or utcnow() - row.refreshed_at > STALE_AFTER:
            task = asyncio.create_task(self._refresh_config(company_id))
            self._refreshing[(company_id, CONFIG_KIND)] = task
        if row is None:
            return CompanyConfig()
        return CompanyConfig.model_validate(wire.loads(row.items))

    async def _refresh_config(self, company_id: str) -> None:
        try:
            config = await self._backend.company_config(company_id)
        except ExpenseSyncError as exc:
            log.warning("could not read the defaults of company %s (%s)", company_id, exc)
            return
        await self._store(company_id, CONFIG_KIND, wire.dumps(config).decode())

    async def settle(self) -> None:
        """Wait for background refreshes (tests and shutdown)."""
        running = [task for task in self._refreshing.values() if not task.done()]
        if running:
            await asyncio.wait(running, timeout=30)
