"""One scheduled look per cycle across every bot process on the database, whichever process makes it.

Each look is taken under a lease a little shorter than the interval: the others skip it until the lease runs
out, and if its holder dies the next process to try takes it over. What a look writes is conditional anyway
(exactly once whoever looks); the lease saves the repeated requests.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta

from storage.db import Database, StorageError
from storage.repositories import Leases
from storage.tables import utcnow

SHARE_OF_INTERVAL = 0.8


class LookLeases:
    def __init__(self, db: Database, interval_seconds: float) -> None:
        self._db = db
        self._length = timedelta(seconds=interval_seconds * SHARE_OF_INTERVAL)
        self.holder = f"bot-{uuid.uuid4().hex[:12]}"

    async def take(self, look: str) -> bool:
        async with self._db.session() as session:
            return await Leases(session).take(look, self.holder, utcnow() + self._length)

    async def keep(self, look: str) -> None:
        """After a long look: hold it a full lease from now, so no one starts the same look at once."""
        await self.take(look)

    async def release(self) -> None:
        """At a clean stop: the next process need not wait the lease out."""
        with contextlib.suppress(StorageError, OSError):  # a store gone at stop: the lease simply runs out
            async with self._db.session() as session:
                await Leases(session).release_all(self.holder)
