"""Receipts on their way to their expenses: recorded once per expense and file, uploaded, retried or given up."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.repositories._sql import Backlog, backlog
from storage.states import BOOKED, OutboxState, ReceiptState
from storage.tables import OutboxExpense, ReceiptRecord, utcnow


def _new(expense: OutboxExpense, file_id: str, user_id: str) -> ReceiptRecord:
    return ReceiptRecord(
        id=str(uuid.uuid4()),
        expense_id=expense.id,
        slack_file_id=file_id,
        channel_id=expense.channel_id,
        user_id=user_id,
        next_attempt_at=utcnow(),
        created_at=utcnow(),
    )


class Receipts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add_to_new(self, expense: OutboxExpense, file_ids: Iterable[str], user_id: str) -> None:
        """The files that came with an expense being stored now (none can be recorded for it yet)."""
        for file_id in file_ids:
            self.session.add(_new(expense, file_id, user_id))

    async def attach_once(self, expense: OutboxExpense, file_id: str, user_id: str) -> bool:
        """Record the file for the expense; False when it already is (twice changes nothing)."""
        statement = select(ReceiptRecord).where(
            col(ReceiptRecord.expense_id) == expense.id, col(ReceiptRecord.slack_file_id) == file_id
        )
        if (await self.session.execute(statement)).scalar_one_or_none() is not None:
            return False
        self.session.add(_new(expense, file_id, user_id))
        await self.session.flush()
        return True

    async def due_for_upload(self, *, after_sync: bool, limit: int) -> list[tuple[ReceiptRecord, OutboxExpense]]:
        """Receipts due whose expense the service already has (``after_sync``: has booked), oldest first."""
        statement = (
            select(ReceiptRecord, OutboxExpense)
            .join(OutboxExpense, col(OutboxExpense.id) == col(ReceiptRecord.expense_id))
            .where(
                and_(
                    col(ReceiptRecord.state) == ReceiptState.WAITING,
                    col(ReceiptRecord.next_attempt_at) <= utcnow(),
                    col(OutboxExpense.state) == OutboxState.ACCEPTED,
                    # Where receipts go on the booked transaction, they wait until it is booked.
                    col(OutboxExpense.status) == BOOKED if after_sync else true(),
                )
            )
            .order_by(col(ReceiptRecord.created_at))
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def uploaded(self, receipt_id: str, *, attachment_id: str, sha256: str | None, file_name: str) -> None:
        await self._set(
            receipt_id, state=ReceiptState.UPLOADED, attachment_id=attachment_id, sha256=sha256, file_name=file_name
        )

    async def retry_at(self, receipt_id: str, moment: datetime, *, attempts: int, reason: str) -> None:
        """Not uploaded this time: tried again at ``moment``."""
        await self._set(receipt_id, attempts=attempts, error_message=reason, next_attempt_at=moment)

    async def give_up(self, receipt_id: str, sentence: str) -> None:
        await self._set(receipt_id, state=ReceiptState.FAILED, error_message=sentence)

    async def _set(self, receipt_id: str, **values: object) -> None:
        await self.session.execute(update(ReceiptRecord).where(col(ReceiptRecord.id) == receipt_id).values(**values))

    async def waiting(self) -> Backlog:
        """What is still to be uploaded, and the oldest of it."""
        return await backlog(
            self.session, col(ReceiptRecord.created_at), col(ReceiptRecord.state) == ReceiptState.WAITING
        )
