"""The expense-sync service as the bot's services see it: one interface, one adapter per service.

Sync2Books is the first adapter; Codat's Sync for Expenses will be the second. Services depend on
``ExpenseSyncBackend`` only, so neither handlers nor Block Kit builders know which one runs. Failures
are the typed errors of ``sync2books.errors`` whichever service answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from sync2books.client import MAX_PAGE_SIZE, Sync2BooksClient
from sync2books.models import (
    REFERENCE_MODELS,
    Attachment,
    AuthUrl,
    Company,
    CompanyConfig,
    Connection,
    Expense,
    ExpensesAccepted,
    IntegrationKey,
    ReferenceKind,
    SyncBatch,
    WireModel,
)


class ExpenseSyncBackend(Protocol):
    """Companies, authorization links, connections, reference data, defaults, expenses, receipts, batches."""

    name: str
    # The expense types this service accepts, in the order the modal offers them.
    expense_types: tuple[str, ...]

    async def create_company(self, name: str, description: str | None) -> Company: ...

    async def get_company(self, company_id: str) -> Company: ...

    async def auth_link(self, company_id: str, software: IntegrationKey) -> AuthUrl: ...

    async def connections(self, company_id: str) -> list[Connection]: ...

    async def disconnect(self, company_id: str, connection_id: str) -> Connection: ...

    async def reference(self, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        """The whole list (every page) of one kind of reference data."""
        ...

    async def company_config(self, company_id: str) -> CompanyConfig: ...

    async def create_expenses(self, connection_id: str, expenses: Sequence[Expense]) -> ExpensesAccepted:
        """Queue 1–50 expenses as one batch; idempotent by expense id."""
        ...

    async def sync_batch(self, sync_batch_id: str) -> SyncBatch: ...

    def changed_batches(self, since: datetime | None) -> AsyncIterator[SyncBatch]:
        """Every batch of this API key that changed after ``since``, oldest change first (a few requests)."""
        ...

    async def upload_attachment(
        self, connection_id: str, expense_id: str, file_name: str, content: bytes, content_type: str
    ) -> Attachment: ...

    async def ping(self) -> str:
        """A cheap authenticated call; answers a line saying what answered."""
        ...

    async def aclose(self) -> None: ...


class Sync2BooksBackend:
    name = "Sync2Books"
    expense_types: tuple[str, ...] = ("Payment", "DirectCost")

    def __init__(self, client: Sync2BooksClient) -> None:
        self.client = client

    async def create_company(self, name: str, description: str | None) -> Company:
        return await self.client.create_company(name, description)

    async def get_company(self, company_id: str) -> Company:
        return await self.client.get_company(company_id)

    async def auth_link(self, company_id: str, software: IntegrationKey) -> AuthUrl:
        return await self.client.get_auth_url(company_id, software)

    async def connections(self, company_id: str) -> list[Connection]:
        return await self.client.list_connections(company_id)

    async def disconnect(self, company_id: str, connection_id: str) -> Connection:
        return await self.client.disconnect(company_id, connection_id)

    async def reference(self, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        return list(await self.client.all_reference(connection_id, kind, REFERENCE_MODELS[kind]))

    async def company_config(self, company_id: str) -> CompanyConfig:
        return await self.client.get_company_config(company_id)

    async def create_expenses(self, connection_id: str, expenses: Sequence[Expense]) -> ExpensesAccepted:
        return await self.client.create_expenses(connection_id, expenses)

    async def sync_batch(self, sync_batch_id: str) -> SyncBatch:
        return await self.client.get_sync_batch(sync_batch_id)

    def changed_batches(self, since: datetime | None) -> AsyncIterator[SyncBatch]:
        return self.client.iter_sync_batches(updated_since=since, page_size=MAX_PAGE_SIZE)

    async def upload_attachment(
        self, connection_id: str, expense_id: str, file_name: str, content: bytes, content_type: str
    ) -> Attachment:
        return await self.client.upload_attachment(connection_id, expense_id, file_name, content, content_type)

    async def ping(self) -> str:
        page = await self.client.list_companies(page=1, page_size=1)
        return f"{page.total} compan{'y' if page.total == 1 else 'ies'} on this API key"

    async def aclose(self) -> None:
        await self.client.aclose()
