"""Valid expenses built from a connection's own ledger, and waiting for batches to end."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sync2books.models import AccountType, Connection, Expense, SyncBatch
from tests.support.sandbox_client import SandboxClient


@dataclass(frozen=True)
class LedgerRefs:
    account: str
    tax_rate: str
    supplier: str
    customer: str
    bank_account: str
    tracking_category: str
    currency: str


async def ledger_refs(client: SandboxClient, connection: Connection) -> LedgerRefs:
    accounts = await client.accounts(connection.id)
    categories = await client.tracking_categories(connection.id)
    return LedgerRefs(
        account=next(a.id for a in accounts if a.type == AccountType.EXPENSE),
        tax_rate=(await client.tax_rates(connection.id))[0].id,
        supplier=(await client.suppliers(connection.id))[0].id,
        customer=(await client.customers(connection.id))[0].id,
        bank_account=(await client.bank_accounts(connection.id))[0].id,
        tracking_category=next(c.id for c in categories if c.parent_id is not None),
        currency=connection.base_currency,
    )


def expense_data(refs: LedgerRefs, **overrides: Any) -> dict[str, Any]:
    """A valid expense in wire form (camelCase), every optional field filled; overrides replace fields."""
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "Payment",
        "issueDate": date(2026, 11, 20).isoformat(),
        "currency": refs.currency,
        "merchantName": "Pret A Manger",
        "contactRef": {"id": refs.supplier, "type": "Supplier"},
        "bankAccountRef": {"id": refs.bank_account},
        "lines": [
            {
                "netAmount": Decimal("10.00"),
                "taxAmount": Decimal("2.00"),
                "taxRateRef": {"id": refs.tax_rate},
                "accountRef": {"id": refs.account},
                "trackingRefs": [{"id": refs.tracking_category, "dataType": "trackingCategories"}],
                "invoiceTo": {"id": refs.customer, "type": "Customer"},
            }
        ],
        "notes": "Team lunch",
        "postAsDraft": False,
    }
    data.update(overrides)
    return data


def make_expense(refs: LedgerRefs, **overrides: Any) -> Expense:
    return Expense.model_validate(expense_data(refs, **overrides))


async def wait_for_batch(client: SandboxClient, batch_id: str, timeout: float = 15.0) -> SyncBatch:
    """Poll until the batch reaches a terminal status (or fail the test after ``timeout``)."""
    async with asyncio.timeout(timeout):
        while True:
            batch = await client.get_sync_batch(batch_id)
            if batch.status.is_terminal:
                return batch
            await asyncio.sleep(0.05)
