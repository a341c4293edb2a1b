"""What was read from shared files: one row a file, found by file or by its bytes' sha256."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.tables import OutboxExpense, ReceiptReadingRecord, ReceiptRecord


class ReceiptReadings:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, file_id: str) -> ReceiptReadingRecord | None:
        return await self.session.get(ReceiptReadingRecord, file_id)

    async def with_bytes(self, sha256: str) -> ReceiptReadingRecord | None:
        """A reading of the same bytes under any file id (the same receipt shared again is not read again)."""
        statement = select(ReceiptReadingRecord).where(col(ReceiptReadingRecord.sha256) == sha256).limit(1)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def save(self, record: ReceiptReadingRecord) -> None:
        """Kept once per file; reading the same file again (two processes, a restart) keeps the first."""
        if await self.get(record.file_id) is None:
            self.session.add(record)
            await self.session.flush()

    async def expense_with_bytes(self, company_id: str, sha256: str) -> OutboxExpense | None:
        """The company's newest expense with a receipt of these bytes: read with them, or uploaded with them."""
        statement = (
            select(OutboxExpense)
            .join(ReceiptRecord, col(ReceiptRecord.expense_id) == col(OutboxExpense.id))
            .outerjoin(ReceiptReadingRecord, col(ReceiptReadingRecord.file_id) == col(ReceiptRecord.slack_file_id))
            .where(
                col(OutboxExpense.company_id) == company_id,
                or_(col(ReceiptRecord.sha256) == sha256, col(ReceiptReadingRecord.sha256) == sha256),
            )
            .order_by(col(OutboxExpense.created_at).desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalars().first()
