"""Sync batches as the API shows them: one by id, or listed by partner, status and what changed since."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from sync2books.models import BatchCounts, BatchExpense, BatchStatus, ExpenseStatus, SyncBatch, SyncError
from sync2books.sandbox.store.base import StoreBase, format_ts, parse_required_ts, parse_ts


class SyncBatchStore(StoreBase):
    async def _batches(self, db: aiosqlite.Connection, rows: Iterable[aiosqlite.Row]) -> list[SyncBatch]:
        rows = list(rows)
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        item_rows = await self._all(
            db,
            f"SELECT * FROM batch_items WHERE batch_id IN ({marks}) ORDER BY batch_id, position",  # noqa: S608
            ids,
        )
        items: dict[str, list[BatchExpense]] = {batch_id: [] for batch_id in ids}
        for item in item_rows:
            error = SyncError(code=item["error_code"], message=item["error_message"]) if item["error_code"] else None
            items[item["batch_id"]].append(
                BatchExpense(
                    id=item["expense_id"],
                    status=ExpenseStatus(item["status"]),
                    accounting_id=item["accounting_id"],
                    error=error,
                )
            )
        batches = []
        for row in rows:
            expenses = items[row["id"]]
            batches.append(
                SyncBatch(
                    id=row["id"],
                    company_id=row["company_id"],
                    connection_id=row["connection_id"],
                    status=BatchStatus(row["status"]),
                    created_at=parse_required_ts(row["created_at"]),
                    updated_at=parse_required_ts(row["updated_at"]),
                    started_at=parse_ts(row["started_at"]),
                    completed_at=parse_ts(row["completed_at"]),
                    counts=BatchCounts(
                        total=len(expenses),
                        synced=sum(e.status == ExpenseStatus.SYNCED for e in expenses),
                        failed=sum(e.status == ExpenseStatus.FAILED for e in expenses),
                    ),
                    expenses=expenses,
                )
            )
        return batches

    async def get_batch(self, partner: str, batch_id: str) -> SyncBatch | None:
        async with self._reading() as db:
            row = await self._one(db, "SELECT * FROM batches WHERE id = ? AND partner = ?", (batch_id, partner))
            found = await self._batches(db, [row] if row else [])
        return found[0] if found else None

    async def list_batches(
        self,
        partner: str,
        *,
        company_id: str | None,
        connection_id: str | None,
        statuses: Sequence[BatchStatus],
        updated_since: datetime | None,
        page: int,
        page_size: int,
    ) -> tuple[list[SyncBatch], int]:
        where = ["partner = ?"]
        params: list[Any] = [partner]
        if company_id:
            where.append("company_id = ?")
            params.append(company_id)
        if connection_id:
            where.append("connection_id = ?")
            params.append(connection_id)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(status.value for status in statuses)
        if updated_since is not None:
            where.append("updated_at > ?")
            params.append(format_ts(updated_since))
        clause = " AND ".join(where)
        async with self._reading() as db:
            total_row = await self._one(db, f"SELECT count(*) FROM batches WHERE {clause}", params)  # noqa: S608
            rows = await self._all(
                db,
                f"SELECT * FROM batches WHERE {clause} ORDER BY updated_at, id LIMIT ? OFFSET ?",  # noqa: S608
                [*params, page_size, (page - 1) * page_size],
            )
            batches = await self._batches(db, rows)
        assert total_row is not None
        return batches, int(total_row[0])
