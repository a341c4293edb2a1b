"""What operators ask of a running bot: is it ready, and how much is waiting to go out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlmodel import col

from bot import metrics
from bot.backend import ExpenseSyncBackend, ExpenseSyncError
from bot.services.batches import TERMINAL
from storage.db import Database
from storage.tables import Announcement, ExpenseRecord, ReceiptRecord, utcnow

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
            async with asyncio.timeout(READY_TIMEOUT_SECONDS), self._db.session() as session:
                await session.execute(text("SELECT 1"))
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
        waiting = {
            "announcements": select(func.count(), func.min(col(Announcement.created_at))).where(
                col(Announcement.state).in_(("pending", "sending"))
            ),
            "expenses": select(func.count(), func.min(col(ExpenseRecord.created_at))).where(
                col(ExpenseRecord.state).in_(("waiting", "sending"))
            ),
            "receipts": select(func.count(), func.min(col(ReceiptRecord.created_at))).where(
                col(ReceiptRecord.state) == "waiting"
            ),
        }
        open_batches = select(func.count(func.distinct(col(ExpenseRecord.sync_batch_id)))).where(
            col(ExpenseRecord.state) == "accepted", col(ExpenseRecord.status).not_in(TERMINAL)
        )
        async with self._db.session() as session:
            for outbox, statement in waiting.items():
                count, oldest = (await session.execute(statement)).one()
                metrics.OUTBOX_DEPTH.labels(outbox).set(count)
                metrics.OUTBOX_OLDEST.labels(outbox).set(_age(now, oldest))
            metrics.OPEN_BATCHES.set((await session.execute(open_batches)).scalar_one())
        metrics.refresh_look_ages()


def _age(now: datetime, oldest: datetime | str | None) -> float:
    if oldest is None:
        return 0.0
    if isinstance(oldest, str):  # an aggregate over SQLite may come back as the stored text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())
