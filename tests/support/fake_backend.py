"""The expense-sync port in memory: dicts instead of HTTP, so a service-level test runs in milliseconds.

``FakeBackend`` implements ``bot.backend.ExpenseSyncBackend`` the way both adapters behave where the services can
tell: companies get ids and authorization links, a link becomes a CONNECTED connection when the test says the
customer used it (``authorize``), expenses are queued as one batch per call (the same ids again answer the same
batch, as the real services do), and a batch lands when the test says so (``settle``). ``fail_next`` makes the
next call raise one of the port's errors, for the refusals.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from bot.backend import (
    AcceptedExpense,
    Attachment,
    AuthLink,
    BatchCounts,
    BatchExpense,
    BatchStatus,
    Company,
    CompanyConfig,
    ConnectionStatus,
    Expense,
    ExpensesAccepted,
    ExpenseStatus,
    ExpenseSyncBackend,
    ExpenseSyncError,
    NotFound,
    OpenBatch,
    ReceiptRules,
    ReferenceKind,
    ServiceConnection,
    SyncBatch,
    SyncError,
    WireModel,
)
from bot.software import Software, SoftwareCatalog

FAKE_SOFTWARE = SoftwareCatalog([Software("XERO", "Xero", ("xero",)), Software("QBO", "QuickBooks Online", ("qbo",))])


class FakeBackend:
    name = "Fake Books"
    key_variable = "FAKE_API_KEY"
    expense_types: tuple[str, ...] = ("Payment", "DirectCost")
    contact_types: tuple[str, ...] = ("Supplier", "Customer")
    software = FAKE_SOFTWARE
    receipts_after_sync = False

    def __init__(self) -> None:
        self.companies: dict[str, Company] = {}
        self.connections_of: dict[str, dict[str, ServiceConnection]] = {}
        self.batches: dict[str, SyncBatch] = {}
        self.expenses: dict[str, Expense] = {}
        self.batch_of: dict[str, str] = {}  # expense id → the batch that took it
        self.attachments: dict[str, list[Attachment]] = {}
        self.references: dict[tuple[str, ReferenceKind], list[WireModel]] = {}
        self.configs: dict[str, CompanyConfig] = {}
        self.calls: list[str] = []
        self._failures: list[ExpenseSyncError] = []
        self._ticks = itertools.count(1)
        self._epoch = datetime(2026, 1, 1, tzinfo=UTC)

    # ------------------------------------------------------------------ what a test says happens

    def fail_next(self, error: ExpenseSyncError) -> None:
        """The next call (any of them) raises ``error``."""
        self._failures.append(error)

    def authorize(self, company_id: str, software: str = "XERO", base_currency: str = "USD") -> ServiceConnection:
        """The customer used the link: the company has a CONNECTED connection to that software."""
        connection = ServiceConnection(
            id=str(uuid.uuid4()),
            company_id=company_id,
            integration_key=software,
            platform_name=self.software.display_name(software),
            status=ConnectionStatus.CONNECTED,
            created_at=self._now(),
            updated_at=self._now(),
            base_currency=base_currency,
        )
        self.connections_of.setdefault(company_id, {})[connection.id] = connection
        return connection

    def settle(self, batch_id: str, refused: dict[str, str] | None = None) -> SyncBatch:
        """The batch lands in the books: every expense SYNCED but those in ``refused`` (id → why), FAILED."""
        refused = refused or {}
        batch = self.batches[batch_id]
        items = [
            BatchExpense(id=e.id, status=ExpenseStatus.FAILED, error=SyncError(code="rejected", message=refused[e.id]))
            if e.id in refused
            else BatchExpense(id=e.id, status=ExpenseStatus.SYNCED, accounting_id=f"books-{e.id[:8]}")
            for e in batch.expenses
        ]
        failed = sum(1 for item in items if item.status == ExpenseStatus.FAILED)
        status = (
            BatchStatus.COMPLETED
            if not failed
            else BatchStatus.FAILED
            if failed == len(items)
            else BatchStatus.PARTIALLY_FAILED
        )
        now = self._now()
        settled = batch.model_copy(
            update={
                "status": status,
                "updated_at": now,
                "completed_at": now,
                "counts": BatchCounts(total=len(items), synced=len(items) - failed, failed=failed),
                "expenses": items,
            }
        )
        self.batches[batch_id] = settled
        return settled

    # ------------------------------------------------------------------ the port

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self._failures:
            raise self._failures.pop(0)

    def _now(self) -> datetime:
        # Every change a microsecond later than the last: "changed since" stays exact without a real clock.
        return self._epoch + timedelta(microseconds=next(self._ticks))

    def company_name_problem(self, name: str) -> str | None:
        return None

    async def create_company(self, name: str, description: str | None) -> Company:
        self._call("create_company")
        company_id = str(uuid.uuid4())
        company = Company(
            id=company_id,
            name=name,
            description=description,
            created_at=self._now(),
            auth_url=f"https://books.example/authorize/{company_id}",
        )
        self.companies[company_id] = company
        return company

    async def get_company(self, company_id: str) -> Company:
        self._call("get_company")
        if company_id not in self.companies:
            raise NotFound(f"no company {company_id}", status=404, code="not_found")
        return self.companies[company_id]

    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        self._call("auth_links")
        expires = datetime.now(UTC) + timedelta(hours=1)
        return [AuthLink(f"https://books.example/authorize/{company_id}/{key}", expires) for key in software]

    async def connections(self, company_id: str) -> list[ServiceConnection]:
        self._call("connections")
        return list(self.connections_of.get(company_id, {}).values())

    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection:
        self._call("disconnect")
        known = self.connections_of.get(company_id, {})
        if connection_id not in known:
            raise NotFound(f"no connection {connection_id}", status=404, code="not_found")
        gone = known[connection_id].model_copy(
            update={"status": ConnectionStatus.DISCONNECTED, "updated_at": self._now()}
        )
        known[connection_id] = gone
        return gone

    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        self._call("reference")
        return list(self.references.get((connection_id, kind), []))

    async def company_config(self, company_id: str) -> CompanyConfig:
        self._call("company_config")
        return self.configs.get(company_id, CompanyConfig())

    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        self._call("create_expenses")
        again = {self.batch_of[e.id] for e in expenses if e.id in self.batch_of}
        if again:  # idempotent by expense id: the batch that took them answers again
            batch = self.batches[again.pop()]
        else:
            now = self._now()
            batch = SyncBatch(
                id=str(uuid.uuid4()),
                company_id=company_id,
                connection_id=connection_id,
                status=BatchStatus.QUEUED,
                created_at=now,
                updated_at=now,
                counts=BatchCounts(total=len(expenses), synced=0, failed=0),
                expenses=[BatchExpense(id=e.id, status=ExpenseStatus.QUEUED) for e in expenses],
            )
            self.batches[batch.id] = batch
            for expense in expenses:
                self.expenses[expense.id] = expense
                self.batch_of[expense.id] = batch.id
        return ExpensesAccepted(
            sync_batch_id=batch.id,
            status=ExpenseStatus.QUEUED,
            expenses=[AcceptedExpense(id=e.id, status=ExpenseStatus.QUEUED, sync_batch_id=batch.id) for e in expenses],
        )

    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch:
        self._call("sync_batch")
        if sync_batch_id not in self.batches:
            raise NotFound(f"no batch {sync_batch_id}", status=404, code="not_found")
        return self.batches[sync_batch_id]

    async def changed_batches(
        self, since: datetime | None, open_batches: Sequence[OpenBatch]
    ) -> AsyncIterator[SyncBatch]:
        self._call("changed_batches")
        for batch in sorted(self.batches.values(), key=lambda b: b.updated_at):
            if since is None or batch.updated_at > since:
                yield batch

    def receipt_rules(self, software: str) -> ReceiptRules:
        return ReceiptRules(
            self.software.display_name(software), 10 * 1024 * 1024, frozenset({"application/pdf"}), "PDF"
        )

    async def upload_attachment(
        self,
        company_id: str,
        connection_id: str,
        sync_batch_id: str,
        expense_id: str,
        file_name: str,
        content: bytes,
        content_type: str,
    ) -> Attachment:
        self._call("upload_attachment")
        attachment = Attachment(
            id=str(uuid.uuid4()),
            expense_id=expense_id,
            file_name=file_name,
            content_type=content_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
        self.attachments.setdefault(expense_id, []).append(attachment)
        return attachment

    async def ping(self) -> str:
        self._call("ping")
        return f"{len(self.companies)} companies in memory"

    async def aclose(self) -> None:
        return None


def _implements_the_port(backend: FakeBackend) -> ExpenseSyncBackend:
    return backend  # mypy holds FakeBackend to the protocol here
