"""Files attached to an expense, kept once per content."""

from __future__ import annotations

import hashlib
import uuid

import aiosqlite

from sync2books.models import Attachment, Connection
from sync2books.sandbox.store.base import StoreBase, format_ts


class AttachmentStore(StoreBase):
    @staticmethod
    def _attachment(row: aiosqlite.Row) -> Attachment:
        return Attachment(
            id=row["id"],
            expense_id=row["expense_id"],
            file_name=row["file_name"],
            content_type=row["content_type"],
            size=row["size"],
            sha256=row["sha256"],
        )

    async def _attachments(self, db: aiosqlite.Connection, company_id: str, expense_id: str) -> list[Attachment]:
        rows = await self._all(
            db,
            "SELECT * FROM attachments WHERE company_id = ? AND expense_id = ? ORDER BY created_at, id",
            (company_id, expense_id),
        )
        return [self._attachment(row) for row in rows]

    async def list_attachments(self, connection: Connection, expense_id: str) -> list[Attachment]:
        async with self._reading() as db:
            return await self._attachments(db, connection.company_id, expense_id)

    async def add_attachment(
        self, connection: Connection, expense_id: str, file_name: str, content_type: str, content: bytes
    ) -> tuple[Attachment, bool]:
        """Store the file; the same bytes again answer the existing attachment (``created`` False)."""
        digest = hashlib.sha256(content).hexdigest()
        async with self._transaction() as db:
            row = await self._one(
                db,
                "SELECT * FROM attachments WHERE company_id = ? AND expense_id = ? AND sha256 = ?",
                (connection.company_id, expense_id, digest),
            )
            if row is not None:
                return self._attachment(row), False
            attachment_id = str(uuid.uuid4())
            await db.execute(
                "INSERT INTO attachments (id, company_id, expense_id, file_name, content_type, size, sha256,"
                " content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attachment_id,
                    connection.company_id,
                    expense_id,
                    file_name,
                    content_type,
                    len(content),
                    digest,
                    content,
                    format_ts(self.now()),
                ),
            )
        return (
            Attachment(
                id=attachment_id,
                expense_id=expense_id,
                file_name=file_name,
                content_type=content_type,
                size=len(content),
                sha256=digest,
            ),
            True,
        )
