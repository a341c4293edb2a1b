"""Slack delivers an event again when it thinks we missed it; the second delivery changes nothing.

Inbound only: what the bot posts (``Notifier.deliver``) is kept exactly-once by the announcements instead.
"""

from __future__ import annotations

from datetime import timedelta

from storage.db import Database
from storage.repositories import SeenDeliveries
from storage.tables import utcnow

# Slack retries within minutes; a day of memory is plenty and keeps the table small.
REMEMBER_FOR = timedelta(days=1)


class DuplicateGuard:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_time(self, key: str) -> bool:
        async with self._db.session() as session:
            return await SeenDeliveries(session).first_time(key)

    async def forget_old(self) -> int:
        async with self._db.session() as session:
            return await SeenDeliveries(session).forget_older_than(utcnow() - REMEMBER_FOR)
