"""What operators ask of a running bot: is it ready, and how much is waiting to go out."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot import metrics
from bot.backend import ExpenseSyncBackend, ExpenseSyncError
from storage.db import Database
from storage.repositories import Announcements, Expenses, Receipts
from storage.tables import utcnow

READY_TIMEOUT_SECONDS = 3.0


class Operations:
    def __init__(self, db: Database, backend: ExpenseSyncBackend) -> None:
        self._db = db
        self._backend = backend

    async def readiness(self) -> dict[str, str]:
        """``ok`` or a plain reason, for the database and the backend; ready only when both are ``ok``."""
        return {"database": await self._database_answers(), "backend": await self._backend_answers()}

    async def _database_answers(self) -> str:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await self._db.ping()
        except TimeoutError:
            return "no answer within 3 s"
        except Exception as exc:  # any driver's failure means the same thing here: not ready
            return f"unavailable ({type(exc).__name__})"
        return "ok"

    async def _backend_answers(self) -> str:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await self._backend.ping()
        except TimeoutError:
            return "no answer within 3 s"
        except ExpenseSyncError as exc:
            return f"unavailable ({type(exc).__name__})"
        return "ok"

    async def refresh_gauges(self) -> None:
        """Read the outboxes' depth and age from the store, so every process reports the shared truth."""
        now = utcnow()
        async with self._db.session() as session:
            waiting = {
                "announcements": await Announcements(session).waiting(),
                "expenses": await Expenses(session).waiting(),
                "receipts": await Receipts(session).waiting(),
            }
            open_batches = await Expenses(session).open_batch_count()
        for outbox, backlog in waiting.items():
            metrics.OUTBOX_DEPTH.labels(outbox).set(backlog.count)
            metrics.OUTBOX_OLDEST.labels(outbox).set(_age(now, backlog.oldest))
        metrics.OPEN_BATCHES.set(open_batches)
        metrics.refresh_look_ages()


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    return max(0.0, (now - oldest).total_seconds())
