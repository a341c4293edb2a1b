"""Expenses: accepted idempotently into a new batch, read back with their attachments."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sync2books import wire
from sync2books.models import (
    AcceptedExpense,
    BatchStatus,
    Connection,
    ConnectionStatus,
    Expense,
    ExpenseRecord,
    ExpenseStatus,
    SyncError,
)
from sync2books.sandbox.store.attachments import AttachmentStore
from sync2books.sandbox.store.base import StoreError, format_ts
from sync2books.sandbox.store.connections import ConnectionStore


def body_hash(connection_id: str, expense: Expense) -> str:
    """What "the same body" means for idempotency: the validated expense, in canonical form.

    Amounts are compared by value (12.5 and 12.50 are the same money), and the connection is part of
    the body, because the same id sent to another connection is a different request.
    """
    data = wire.to_data(expense, exclude_none=True)
    canonical = wire.dumps({"connectionId": connection_id, "expense": _normalized(data)})
    return hashlib.sha256(canonical).hexdigest()


def _normalized(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dict):
        return {key: _normalized(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


@dataclass(frozen=True)
class AcceptOutcome:
    new_batch_id: str | None
    expenses: list[AcceptedExpense]


class ExpenseStore(ConnectionStore, AttachmentStore):
    async def accept_expenses(self, partner: str, connection: Connection, expenses: Sequence[Expense]) -> AcceptOutcome:
        """Queue what is new or failed before; answer what is known; refuse a changed body (409).

        All or nothing: a conflict on any item leaves every other item of the request unqueued.
        """
        async with self._transaction() as db:
            current = await self._connection(db, connection.id)
            if current is None or current.status != ConnectionStatus.CONNECTED:
                raise StoreError("connection_not_connected", "The connection is not CONNECTED; expenses are refused")
            to_queue: list[tuple[Expense, str]] = []
            answers: dict[str, AcceptedExpense] = {}
            for expense in expenses:
                digest = body_hash(connection.id, expense)
                row = await self._one(
                    db,
                    "SELECT status, batch_id, body_hash FROM expenses WHERE company_id = ? AND id = ?",
                    (connection.company_id, expense.id),
                )
                if row is None or row["status"] == ExpenseStatus.FAILED:
                    to_queue.append((expense, digest))
                elif row["body_hash"] == digest:
                    answers[expense.id] = AcceptedExpense(
                        id=expense.id, status=ExpenseStatus(row["status"]), sync_batch_id=row["batch_id"]
                    )
                else:
                    raise StoreError(
                        "conflict",
                        f"Expense {expense.id} was already submitted with a different body and is "
                        f"{row['status']}; use a new id for a different expense",
                    )
            batch_id: str | None = None
            if to_queue:
                batch_id = str(uuid.uuid4())
                now = format_ts(self.now())
                await db.execute(
                    "INSERT INTO batches (id, partner, company_id, connection_id, status, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (batch_id, partner, connection.company_id, connection.id, BatchStatus.QUEUED, now, now),
                )
                for position, (expense, digest) in enumerate(to_queue):
                    body = wire.dumps(expense, exclude_none=True).decode()
                    await db.execute(
                        "INSERT INTO expenses (company_id, id, connection_id, body, body_hash, status, batch_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (company_id, id) DO UPDATE SET"
                        " connection_id = excluded.connection_id, body = excluded.body,"
                        " body_hash = excluded.body_hash, status = excluded.status, batch_id = excluded.batch_id,"
                        " accounting_id = NULL, error_code = NULL, error_message = NULL",
                        (
                            connection.company_id,
                            expense.id,
                            connection.id,
                            body,
                            digest,
                            ExpenseStatus.QUEUED,
                            batch_id,
                        ),
                    )
                    await db.execute(
                        "INSERT INTO batch_items (batch_id, position, expense_id, status) VALUES (?, ?, ?, ?)",
                        (batch_id, position, expense.id, ExpenseStatus.QUEUED),
                    )
                    answers[expense.id] = AcceptedExpense(
                        id=expense.id, status=ExpenseStatus.QUEUED, sync_batch_id=batch_id
                    )
        return AcceptOutcome(batch_id, [answers[expense.id] for expense in expenses])

    async def get_expense(self, connection: Connection, expense_id: str) -> ExpenseRecord | None:
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT * FROM expenses WHERE company_id = ? AND id = ? AND connection_id = ?",
                (connection.company_id, expense_id, connection.id),
            )
            if row is None:
                return None
            attachments = await self._attachments(db, connection.company_id, expense_id)
        return ExpenseRecord(
            id=row["id"],
            status=ExpenseStatus(row["status"]),
            sync_batch_id=row["batch_id"],
            accounting_id=row["accounting_id"],
            error=SyncError(code=row["error_code"], message=row["error_message"]) if row["error_code"] else None,
            attachments=attachments,
            expense=Expense.model_validate(wire.loads(row["body"])),
        )

    async def expense_exists(self, connection: Connection, expense_id: str) -> bool:
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT 1 FROM expenses WHERE company_id = ? AND id = ? AND connection_id = ?",
                (connection.company_id, expense_id, connection.id),
            )
        return row is not None
