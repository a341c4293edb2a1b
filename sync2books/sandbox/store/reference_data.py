"""A connection's reference data: the seeded ledger's accounts, tax rates, suppliers, customers, …."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiosqlite

from sync2books import wire
from sync2books.models import (
    REFERENCE_MODELS,
    Account,
    BankAccount,
    Customer,
    ReferenceKind,
    Supplier,
    TaxRate,
    TrackingCategory,
    WireModel,
)
from sync2books.sandbox.ledger import Ledger
from sync2books.sandbox.store.base import StoreBase


class ReferenceDataStore(StoreBase):
    async def list_reference(
        self, connection_id: str, kind: ReferenceKind, query: str | None, page: int, page_size: int
    ) -> tuple[list[WireModel], int]:
        where = "connection_id = ? AND kind = ?"
        params: list[Any] = [connection_id, kind.value]
        if query:
            where += " AND instr(lower(name), lower(?)) > 0"
            params.append(query)
        async with self._reading() as db:
            total_row = await self._one(db, f"SELECT count(*) FROM ledger_items WHERE {where}", params)  # noqa: S608
            rows = await self._all(
                db,
                f"SELECT data FROM ledger_items WHERE {where} ORDER BY position LIMIT ? OFFSET ?",  # noqa: S608
                [*params, page_size, (page - 1) * page_size],
            )
        assert total_row is not None
        model = REFERENCE_MODELS[kind]
        return [model.model_validate(wire.loads(row["data"])) for row in rows], int(total_row[0])

    async def _ledger_ids(self, db: aiosqlite.Connection, connection_id: str) -> dict[str, set[str]]:
        rows = await self._all(db, "SELECT kind, id FROM ledger_items WHERE connection_id = ?", (connection_id,))
        ids: dict[str, set[str]] = {kind.value: set() for kind in ReferenceKind}
        for row in rows:
            ids[row["kind"]].add(row["id"])
        return ids


def ledger_rows(connection_id: str, ledger: Ledger) -> list[tuple[str, str, str, int, str, str]]:
    lists: dict[ReferenceKind, Sequence[Account | TaxRate | Supplier | Customer | BankAccount | TrackingCategory]] = {
        ReferenceKind.ACCOUNTS: ledger.accounts,
        ReferenceKind.TAX_RATES: ledger.tax_rates,
        ReferenceKind.SUPPLIERS: ledger.suppliers,
        ReferenceKind.CUSTOMERS: ledger.customers,
        ReferenceKind.BANK_ACCOUNTS: ledger.bank_accounts,
        ReferenceKind.TRACKING_CATEGORIES: ledger.tracking_categories,
    }
    return [
        (connection_id, kind.value, item.id, position, item.name, wire.dumps(item).decode())
        for kind, items in lists.items()
        for position, item in enumerate(items)
    ]
