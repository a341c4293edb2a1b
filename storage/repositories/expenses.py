"""The expense outbox: expenses stored with their id before anything is sent, claimed, and followed to the books."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.repositories._sql import Backlog, backlog, is_postgres
from storage.states import BOOKED, SYNC_FAILED, OutboxState
from storage.tables import OutboxExpense, utcnow

# The expense-sync service's last word on an expense: its batch is no longer waited on.
FINISHED = frozenset({BOOKED, SYNC_FAILED})
# The most ids in one IN (…): SQLite's and asyncpg's limits on bound parameters stay far away.
IDS_AT_ONCE = 500


class StoreConflict(Exception):
    """The expense was not stored: a row already holds its unique key (its submission, stored by a twin)."""


@dataclass(frozen=True)
class BatchMove:
    """What a sync batch now says of one of its expenses."""

    expense_id: str
    batch_id: str
    status: str
    accounting_id: str | None
    error_message: str | None
    at: datetime


class Expenses:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, expense: OutboxExpense) -> None:
        """Store a submitted expense, written now; ``StoreConflict`` when its submission is already stored."""
        self.session.add(expense)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise StoreConflict(expense.submission_key) from exc

    async def get(self, expense_id: str) -> OutboxExpense | None:
        return await self.session.get(OutboxExpense, expense_id)

    async def get_many(self, expense_ids: Sequence[str]) -> list[OutboxExpense]:
        statement = select(OutboxExpense).where(col(OutboxExpense.id).in_(expense_ids))
        return list((await self.session.execute(statement)).scalars())

    async def by_submission(self, submission_key: str) -> OutboxExpense | None:
        """The expense a submission (a modal's view) made, if it made one."""
        statement = select(OutboxExpense).where(col(OutboxExpense.submission_key) == submission_key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def with_message(self, channel_id: str, message_ts: str) -> OutboxExpense | None:
        """The expense whose message in the channel this is (its thread is the expense's)."""
        statement = select(OutboxExpense).where(
            col(OutboxExpense.channel_id) == channel_id, col(OutboxExpense.message_ts) == message_ts
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def recent_of_company(self, company_id: str, limit: int) -> list[OutboxExpense]:
        """The company's expenses, the last changed first."""
        return await self._latest(col(OutboxExpense.company_id) == company_id, col(OutboxExpense.updated_at), limit)

    async def recent_by(self, user_id: str, limit: int) -> list[OutboxExpense]:
        """The person's expenses, the last submitted first."""
        return await self._latest(col(OutboxExpense.submitted_by) == user_id, col(OutboxExpense.created_at), limit)

    async def _latest(self, which: ColumnElement[bool], newest_first: Any, limit: int) -> list[OutboxExpense]:
        statement = select(OutboxExpense).where(which).order_by(newest_first.desc()).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    # ------------------------------------------------------------------ sending

    async def claim_due(self, *, limit: int, lease: timedelta) -> list[OutboxExpense]:
        """Take up to ``limit`` expenses to send: waiting ones that are due, and ones whose sender's lease ran out.

        On PostgreSQL the rows are locked with SKIP LOCKED, so two processes never claim the same one.
        """
        now = utcnow()
        due = or_(
            and_(col(OutboxExpense.state) == OutboxState.WAITING, col(OutboxExpense.next_attempt_at) <= now),
            and_(col(OutboxExpense.state) == OutboxState.SENDING, col(OutboxExpense.lease_until) < now),
        )
        statement = select(OutboxExpense).where(due).order_by(col(OutboxExpense.created_at)).limit(limit)
        if is_postgres(self.session):
            statement = statement.with_for_update(skip_locked=True)
        claimed = list((await self.session.execute(statement)).scalars())
        for expense in claimed:
            expense.state = OutboxState.SENDING
            expense.lease_until = now + lease
            expense.attempts += 1
        return claimed

    async def mark_accepted(self, expense_id: str, status: str, sync_batch_id: str | None) -> None:
        """The service has it, in that sync batch."""
        await self._set(
            expense_id,
            state=OutboxState.ACCEPTED,
            status=status,
            sync_batch_id=sync_batch_id,
            lease_until=None,
            error_message=None,
        )

    async def reject(self, expense_id: str, reason: str) -> None:
        """Refused as it is: not sent again until it is fixed."""
        await self._set(expense_id, state=OutboxState.REJECTED, error_message=reason, lease_until=None)

    async def retry_at(self, expense_id: str, moment: datetime) -> None:
        """Not sent this time (a fault on the way): waiting again, due at ``moment``."""
        await self._set(expense_id, state=OutboxState.WAITING, lease_until=None, next_attempt_at=moment)

    def send_again(self, expense: OutboxExpense, *, body: str, currency: str, total: str, merchant: str | None) -> None:
        """Fix and retry: the corrected body goes out again under the same id, as if newly submitted."""
        for name, value in {
            "body": body,
            "currency": currency,
            "total": total,
            "merchant": merchant,
            "state": OutboxState.WAITING,
            "status": None,
            "sync_batch_id": None,
            "accounting_id": None,
            "error_message": None,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "updated_at": utcnow(),
        }.items():
            setattr(expense, name, value)

    async def set_message(self, expense_id: str, message_ts: str) -> None:
        """Where the expense's message is in its channel."""
        statement = update(OutboxExpense).where(col(OutboxExpense.id) == expense_id).values(message_ts=message_ts)
        await self.session.execute(statement)

    async def _set(self, expense_id: str, **values: Any) -> None:
        values.setdefault("updated_at", utcnow())
        await self.session.execute(update(OutboxExpense).where(col(OutboxExpense.id) == expense_id).values(**values))

    # ------------------------------------------------------------------ following sync batches

    async def open_batches(self) -> list[tuple[str | None, str, str]]:
        """(batch, company, connection) of every batch still waited on, one row each."""
        statement = (
            select(col(OutboxExpense.sync_batch_id), col(OutboxExpense.company_id), col(OutboxExpense.connection_id))
            .where(col(OutboxExpense.state) == OutboxState.ACCEPTED, col(OutboxExpense.status).not_in(FINISHED))
            .distinct()
        )
        return [(row[0], row[1], row[2]) for row in (await self.session.execute(statement)).all()]

    async def open_batches_unchanged_since(self, moment: datetime) -> list[tuple[str | None, str]]:
        """(batch, company) of the batches still waited on whose expenses have not moved since ``moment``."""
        statement = (
            select(col(OutboxExpense.sync_batch_id), col(OutboxExpense.company_id))
            .where(
                col(OutboxExpense.state) == OutboxState.ACCEPTED,
                col(OutboxExpense.status).not_in(FINISHED),
                col(OutboxExpense.updated_at) < moment,
            )
            .distinct()
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def open_batch_count(self) -> int:
        statement = select(func.count(func.distinct(col(OutboxExpense.sync_batch_id)))).where(
            col(OutboxExpense.state) == OutboxState.ACCEPTED, col(OutboxExpense.status).not_in(FINISHED)
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def in_batches(self, batch_ids: Sequence[str]) -> list[OutboxExpense]:
        """Every expense sent in one of these batches."""
        found: list[OutboxExpense] = []
        for start in range(0, len(batch_ids), IDS_AT_ONCE):
            chunk = batch_ids[start : start + IDS_AT_ONCE]
            statement = select(OutboxExpense).where(col(OutboxExpense.sync_batch_id).in_(chunk))
            found += list((await self.session.execute(statement)).scalars())
        return found

    async def record_moves(self, moves: Sequence[BatchMove]) -> None:
        """Each expense's new status, each only if it is still in the batch that reported it.

        One statement for the lot: a look after a busy minute can move thousands of expenses. Core, not the
        ORM: an executemany of one UPDATE, conditional on the batch it came from.
        """
        if not moves:
            return
        table = OutboxExpense.__table__  # type: ignore[attr-defined]
        await self.session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), table.c.sync_batch_id == bindparam("b_batch"))
            .values(
                status=bindparam("b_status"),
                accounting_id=bindparam("b_accounting_id"),
                error_message=bindparam("b_error"),
                updated_at=bindparam("b_at"),
            ),
            [
                {
                    "b_id": move.expense_id,
                    "b_batch": move.batch_id,
                    "b_status": move.status,
                    "b_accounting_id": move.accounting_id,
                    "b_error": move.error_message,
                    "b_at": move.at,
                }
                for move in moves
            ],
        )

    async def waiting(self) -> Backlog:
        """What is still to be sent (waiting or being sent), and the oldest of it."""
        due = col(OutboxExpense.state).in_((OutboxState.WAITING, OutboxState.SENDING))
        return await backlog(self.session, col(OutboxExpense.created_at), due)
