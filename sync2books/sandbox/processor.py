"""Asynchronous batch processing: QUEUED → PROCESSING → terminal, one batch at a time in arrival order.

Each batch waits ``processingDelayMs`` from its arrival, not from the end of the previous batch, so a
long queue drains at the speed of the machine while a lone batch still shows its QUEUED state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sync2books.models import (
    CompanyConfig,
    Connection,
    ConnectionStatus,
    ContactType,
    Expense,
    ExpenseStatus,
    ReferenceKind,
    SandboxSettings,
    SyncError,
    TrackingDataType,
)
from sync2books.sandbox.ledger import accounting_id
from sync2books.sandbox.store import ExpenseOutcome, SandboxStore

log = logging.getLogger(__name__)

# How long the worker sleeps at most between looks, so a changed delay setting takes effect promptly.
IDLE_WAIT_SECONDS = 0.5


def _failed(code: str, message: str) -> ExpenseOutcome:
    return ExpenseOutcome(ExpenseStatus.FAILED, error=SyncError(code=code, message=message))


def judge_expense(
    connection: Connection,
    multi_currency: bool,
    ledger_ids: dict[str, set[str]],
    config: CompanyConfig,
    expense: Expense,
    synced_count: int,
) -> ExpenseOutcome:
    """What the accounting software would make of one expense: the first problem it meets, or success."""
    platform = connection.platform_name
    if connection.status == ConnectionStatus.DISCONNECTED:
        return _failed("connection_disconnected", f"The {platform} connection was disconnected")
    if connection.status == ConnectionStatus.ERROR:
        return _failed("connection_error", f"{platform} rejected the connection; the customer must authorize again")
    if expense.currency != connection.base_currency and not multi_currency:
        return _failed(
            "platform_error",
            f"Multicurrency is turned off in {platform}, so it cannot record an expense in {expense.currency}",
        )

    def missing(kind: ReferenceKind, ref_id: str) -> bool:
        return ref_id not in ledger_ids[kind.value]

    bank = expense.bank_account_ref or config.bank_account_ref
    if bank is None:
        return _failed(
            "missing_bank_account",
            "No bank account: give the expense a bankAccountRef or set the company's default bank account",
        )
    if missing(ReferenceKind.BANK_ACCOUNTS, bank.id):
        return _failed("bank_account_not_found", f"Bank account '{bank.id}' does not exist in {platform}")

    contact = expense.contact_ref
    if contact is not None:
        kind = ReferenceKind.SUPPLIERS if contact.type == ContactType.SUPPLIER else ReferenceKind.CUSTOMERS
        if missing(kind, contact.id):
            return _failed("contact_not_found", f"{contact.type.value} '{contact.id}' does not exist in {platform}")
    elif config.supplier_ref is not None and missing(ReferenceKind.SUPPLIERS, config.supplier_ref.id):
        return _failed(
            "contact_not_found",
            f"The company's default supplier '{config.supplier_ref.id}' does not exist in {platform}",
        )

    for number, line in enumerate(expense.lines, start=1):
        if missing(ReferenceKind.ACCOUNTS, line.account_ref.id):
            return _failed(
                "account_not_found",
                f"Account '{line.account_ref.id}' does not exist in {platform} (line {number})",
            )
        if missing(ReferenceKind.TAX_RATES, line.tax_rate_ref.id):
            return _failed(
                "tax_rate_not_found",
                f"Tax rate '{line.tax_rate_ref.id}' does not exist in {platform} (line {number})",
            )
        for tracking in line.tracking_refs or []:
            if tracking.data_type == TrackingDataType.CUSTOMERS:
                if missing(ReferenceKind.CUSTOMERS, tracking.id):
                    return _failed(
                        "contact_not_found",
                        f"Customer '{tracking.id}' does not exist in {platform} (line {number})",
                    )
            elif missing(ReferenceKind.TRACKING_CATEGORIES, tracking.id):
                return _failed(
                    "tracking_category_not_found",
                    f"Tracking category '{tracking.id}' does not exist in {platform} (line {number})",
                )
        if line.invoice_to is not None and missing(ReferenceKind.CUSTOMERS, line.invoice_to.id):
            return _failed(
                "contact_not_found",
                f"Customer '{line.invoice_to.id}' does not exist in {platform} (line {number})",
            )
    return ExpenseOutcome(
        ExpenseStatus.SYNCED,
        accounting_id=accounting_id(connection.integration_key, synced_count + 1, expense.id),
    )


class BatchProcessor:
    """The worker that drains the batch queue; it resumes whatever a previous process left open."""

    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self._store = store
        self._settings = settings
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A new batch arrived (or a setting changed): look now rather than at the next tick."""
        self._wake.set()

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                # The sandbox must keep serving: a fault here is logged and the batch is tried again.
                log.exception("batch processing failed; retrying shortly")
                await asyncio.sleep(IDLE_WAIT_SECONDS)

    async def _step(self) -> None:
        batch = await self._store.next_open_batch()
        if batch is None:
            await self._idle(IDLE_WAIT_SECONDS)
            return
        due_in = self._settings.processing_delay_ms / 1000 - (datetime.now(UTC) - batch.created_at).total_seconds()
        if due_in > 0:
            await self._idle(min(due_in, IDLE_WAIT_SECONDS))
            return
        await self._store.start_batch(batch.id)
        await self._store.finish_batch(batch.id, judge_expense)
