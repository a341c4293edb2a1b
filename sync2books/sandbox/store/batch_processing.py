"""The batch worker's side: the next open batch, starting it, and ending it with every expense judged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync2books import wire
from sync2books.models import (
    BATCH_EVENT_TYPES,
    BatchStatus,
    CompanyConfig,
    Connection,
    Expense,
    ExpenseStatus,
    SyncError,
)
from sync2books.sandbox.store.base import format_ts, parse_required_ts
from sync2books.sandbox.store.connections import ConnectionStore
from sync2books.sandbox.store.reference_data import ReferenceDataStore
from sync2books.sandbox.store.sync_batches import SyncBatchStore


@dataclass(frozen=True)
class QueuedBatch:
    id: str
    status: BatchStatus
    created_at: datetime


@dataclass(frozen=True)
class ExpenseOutcome:
    status: ExpenseStatus
    accounting_id: str | None = None
    error: SyncError | None = None


class ExpenseJudge(Protocol):
    """Decides how one expense fares in the accounting software."""

    def __call__(
        self,
        connection: Connection,
        multi_currency: bool,
        ledger_ids: dict[str, set[str]],
        config: CompanyConfig,
        expense: Expense,
        synced_count: int,
    ) -> ExpenseOutcome: ...


class BatchProcessingStore(ConnectionStore, ReferenceDataStore, SyncBatchStore):
    async def next_open_batch(self) -> QueuedBatch | None:
        """The oldest batch not yet ended, across every partner: batches are processed in arrival order."""
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT id, status, created_at FROM batches WHERE status IN (?, ?) ORDER BY seq LIMIT 1",
                (BatchStatus.QUEUED, BatchStatus.PROCESSING),
            )
        if row is None:
            return None
        return QueuedBatch(row["id"], BatchStatus(row["status"]), parse_required_ts(row["created_at"]))

    async def start_batch(self, batch_id: str) -> None:
        async with self._transaction() as db:
            now = format_ts(self.now())
            await db.execute(
                "UPDATE batches SET status = ?, started_at = ?, updated_at = ? WHERE id = ? AND status = ?",
                (BatchStatus.PROCESSING, now, now, batch_id, BatchStatus.QUEUED),
            )
            await db.execute(
                "UPDATE expenses SET status = ? WHERE batch_id = ? AND status = ?",
                (ExpenseStatus.PROCESSING, batch_id, ExpenseStatus.QUEUED),
            )
            await db.execute(
                "UPDATE batch_items SET status = ? WHERE batch_id = ? AND status = ?",
                (ExpenseStatus.PROCESSING, batch_id, ExpenseStatus.QUEUED),
            )

    async def finish_batch(self, batch_id: str, judge: ExpenseJudge) -> None:
        """Write every expense of the batch to the "accounting software" and end the batch, in one commit.

        One transaction: a crash half way leaves the batch PROCESSING with nothing written, and the next
        start processes it again from the beginning.
        """
        async with self._transaction() as db:
            batch = await self._one(db, "SELECT * FROM batches WHERE id = ?", (batch_id,))
            if batch is None or BatchStatus(batch["status"]).is_terminal:
                return
            connection_row = await self._one(db, "SELECT * FROM connections WHERE id = ?", (batch["connection_id"],))
            company = await self._one(db, "SELECT config FROM companies WHERE id = ?", (batch["company_id"],))
            assert connection_row is not None
            assert company is not None
            connection = self._connection_model(connection_row)
            config = CompanyConfig.model_validate_json(company["config"]) if company["config"] else CompanyConfig()
            ledger_ids = await self._ledger_ids(db, connection.id)
            synced_count = int(connection_row["synced_count"])
            items = await self._all(
                db,
                "SELECT position, expense_id FROM batch_items WHERE batch_id = ? ORDER BY position",
                (batch_id,),
            )
            outcomes: list[ExpenseOutcome] = []
            for item in items:
                body = await self._one(
                    db,
                    "SELECT body FROM expenses WHERE company_id = ? AND id = ?",
                    (batch["company_id"], item["expense_id"]),
                )
                assert body is not None
                expense = Expense.model_validate(wire.loads(body["body"]))
                outcome = judge(
                    connection,
                    bool(connection_row["multi_currency"]),
                    ledger_ids,
                    config,
                    expense,
                    synced_count,
                )
                if outcome.status == ExpenseStatus.SYNCED:
                    synced_count += 1
                outcomes.append(outcome)
                values = (
                    outcome.status,
                    outcome.accounting_id,
                    outcome.error.code if outcome.error else None,
                    outcome.error.message if outcome.error else None,
                )
                await db.execute(
                    "UPDATE batch_items SET status = ?, accounting_id = ?, error_code = ?, error_message = ?"
                    " WHERE batch_id = ? AND position = ?",
                    (*values, batch_id, item["position"]),
                )
                await db.execute(
                    "UPDATE expenses SET status = ?, accounting_id = ?, error_code = ?, error_message = ?"
                    " WHERE company_id = ? AND id = ? AND batch_id = ?",
                    (*values, batch["company_id"], item["expense_id"], batch_id),
                )
            synced = sum(outcome.status == ExpenseStatus.SYNCED for outcome in outcomes)
            if synced == len(outcomes):
                status = BatchStatus.COMPLETED
            elif synced == 0:
                status = BatchStatus.FAILED
            else:
                status = BatchStatus.PARTIALLY_FAILED
            now = format_ts(self.now())
            await db.execute(
                "UPDATE batches SET status = ?, updated_at = ?, completed_at = ?,"
                " started_at = coalesce(started_at, ?) WHERE id = ?",
                (status, now, now, now, batch_id),
            )
            await db.execute("UPDATE connections SET synced_count = ? WHERE id = ?", (synced_count, connection.id))
            ended = await self._one(db, "SELECT * FROM batches WHERE id = ?", (batch_id,))
            assert ended is not None
            [model] = await self._batches(db, [ended])
            await self._owe_event(
                db, batch["partner"], BATCH_EVENT_TYPES[status], wire.to_data(model), model.updated_at
            )
