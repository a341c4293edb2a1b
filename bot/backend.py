"""The expense-sync service as the bot's services see it: one interface, one adapter per service.

Sync2Books is the first adapter; Codat's Sync for Expenses (``bot.codat_backend``) is the second. Services
depend on ``ExpenseSyncBackend`` only, so neither handlers nor Block Kit builders know which one runs.
Failures are the typed errors of ``sync2books.errors`` whichever service answers.

The port speaks the Sync2Books vocabulary (companies, connections, expenses, sync batches) where the two
services agree, and its own small types where they do not: software keys are each service's own strings,
an authorization link may never expire, and receipts follow rules that depend on the accounting software.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.software import SYNC2BOOKS_SOFTWARE, SoftwareCatalog
from sync2books.client import MAX_PAGE_SIZE, Sync2BooksClient
from sync2books.models import (
    ACCEPTED_ATTACHMENT_TYPES,
    MAX_ATTACHMENT_BYTES,
    REFERENCE_MODELS,
    Attachment,
    Company,
    CompanyConfig,
    Connection,
    ConnectionErrorInfo,
    ConnectionStatus,
    Expense,
    ExpensesAccepted,
    IntegrationKey,
    ReferenceKind,
    SyncBatch,
    WireModel,
)


class ServiceConnection(BaseModel):
    """A company's authorized link to its accounting software, as either service reports it."""

    model_config = ConfigDict(frozen=True)

    id: str
    company_id: str
    integration_key: str  # the service's own key for the software: "XERO", or Codat's "gbol"
    platform_name: str
    status: ConnectionStatus
    created_at: datetime
    updated_at: datetime
    base_currency: str | None = None
    error: ConnectionErrorInfo | None = None


@dataclass(frozen=True)
class AuthLink:
    url: str
    expires_at: datetime | None  # None: the link works until it is used (Codat's do)
    # The connection the link will become, when the service makes it up front (Codat does).
    connection_id: str | None = None


@dataclass(frozen=True)
class OpenBatch:
    """A sync batch the bot still waits on, with the company it belongs to (Codat asks per company)."""

    batch_id: str
    company_id: str
    connection_id: str


@dataclass(frozen=True)
class ReceiptRules:
    """What the books behind one connection take as a receipt."""

    software_name: str
    max_bytes: int | None  # None: no limit of the software's own
    content_types: frozenset[str]
    kinds: str  # the accepted kinds in words, for refusals
    takes_receipts: bool = True
    # Receipts only on these expense types (None: on every type).
    expense_types: frozenset[str] | None = None

    def problem(self, file_name: str, content_type: str, size: int, expense_type: str | None = None) -> str | None:
        """Why this file cannot be a receipt here, in words for the person who shared it; None when it can."""
        refused = f"I can't attach *{file_name}* as a receipt"
        if not self.takes_receipts:
            return f"{refused}: {self.software_name} does not take receipts through this service."
        if expense_type is not None and self.expense_types is not None and expense_type not in self.expense_types:
            allowed = " and ".join(sorted(self.expense_types))
            return f"{refused}: {self.software_name} takes receipts only on {allowed} expenses."
        if content_type not in self.content_types:
            return f"{refused}: {self.software_name} takes only {self.kinds} files."
        if self.max_bytes is not None and size > self.max_bytes:
            megabytes, limit = size / (1024 * 1024), self.max_bytes / (1024 * 1024)
            return (
                f"{refused}: it is {megabytes:.1f} MB and {self.software_name} takes receipts of at most {limit:g} MB."
            )
        return None


class ExpenseSyncBackend(Protocol):
    """Companies, authorization links, connections, reference data, defaults, expenses, receipts, batches."""

    name: str
    # The setting that holds this service's API key, named when the service refuses it.
    key_variable: str
    # The expense types this service accepts, in the order the modal offers them.
    expense_types: tuple[str, ...]
    # The kinds of contact an expense may name ("Supplier", "Customer").
    contact_types: tuple[str, ...]
    software: SoftwareCatalog
    # True: receipts are uploaded only once the expense is in the books (Codat attaches to the booked one).
    receipts_after_sync: bool

    def company_name_problem(self, name: str) -> str | None:
        """Why this service would refuse the name, in plain words; None when it takes it."""
        ...

    async def create_company(self, name: str, description: str | None) -> Company: ...

    async def get_company(self, company_id: str) -> Company: ...

    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        """One authorization link per software asked for, in that order."""
        ...

    async def connections(self, company_id: str) -> list[ServiceConnection]:
        """The company's accounting connections that have been authorized at least once."""
        ...

    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection: ...

    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        """The whole list (every page) of one kind of reference data."""
        ...

    async def company_config(self, company_id: str) -> CompanyConfig: ...

    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        """Queue 1–50 expenses as one batch; idempotent by expense id."""
        ...

    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch: ...

    def changed_batches(self, since: datetime | None, open_batches: Sequence[OpenBatch]) -> AsyncIterator[SyncBatch]:
        """Batches that changed after ``since``, oldest change first, in a few requests.

        ``open_batches`` are those the bot still waits on: a service that cannot list changes across
        companies looks at those.
        """
        ...

    def receipt_rules(self, software: str) -> ReceiptRules: ...

    async def upload_attachment(
        self,
        company_id: str,
        connection_id: str,
        sync_batch_id: str,
        expense_id: str,
        file_name: str,
        content: bytes,
        content_type: str,
    ) -> Attachment: ...

    async def ping(self) -> str:
        """A cheap authenticated call; answers a line saying what answered."""
        ...

    async def aclose(self) -> None: ...


SYNC2BOOKS_RECEIPTS_KINDS = "PDF, JPEG, PNG, GIF, HEIC, TIFF or WebP"


def _service_connection(connection: Connection) -> ServiceConnection:
    return ServiceConnection(
        id=connection.id,
        company_id=connection.company_id,
        integration_key=connection.integration_key.value,
        platform_name=connection.platform_name,
        status=connection.status,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
        base_currency=connection.base_currency,
        error=connection.error,
    )


class Sync2BooksBackend:
    name = "Sync2Books"
    key_variable = "SYNC2BOOKS_API_KEY"
    expense_types: tuple[str, ...] = ("Payment", "DirectCost")
    contact_types: tuple[str, ...] = ("Supplier", "Customer")
    software = SYNC2BOOKS_SOFTWARE
    receipts_after_sync = False

    def __init__(self, client: Sync2BooksClient) -> None:
        self.client = client

    def company_name_problem(self, name: str) -> str | None:
        return None  # the shared checks (length, blank) are all Sync2Books asks

    async def create_company(self, name: str, description: str | None) -> Company:
        return await self.client.create_company(name, description)

    async def get_company(self, company_id: str) -> Company:
        return await self.client.get_company(company_id)

    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        answers = await asyncio.gather(*(self.client.get_auth_url(company_id, IntegrationKey(k)) for k in software))
        return [AuthLink(answer.auth_url, answer.expires_at) for answer in answers]

    async def connections(self, company_id: str) -> list[ServiceConnection]:
        return [_service_connection(c) for c in await self.client.list_connections(company_id)]

    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection:
        return _service_connection(await self.client.disconnect(company_id, connection_id))

    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        return list(await self.client.all_reference(connection_id, kind, REFERENCE_MODELS[kind]))

    async def company_config(self, company_id: str) -> CompanyConfig:
        return await self.client.get_company_config(company_id)

    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        return await self.client.create_expenses(connection_id, expenses)

    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch:
        return await self.client.get_sync_batch(sync_batch_id)

    def changed_batches(self, since: datetime | None, open_batches: Sequence[OpenBatch]) -> AsyncIterator[SyncBatch]:
        # One listing across every company of the API key covers the open batches too.
        return self.client.iter_sync_batches(updated_since=since, page_size=MAX_PAGE_SIZE)

    def receipt_rules(self, software: str) -> ReceiptRules:
        return ReceiptRules(
            self.software.display_name(software),
            MAX_ATTACHMENT_BYTES,
            ACCEPTED_ATTACHMENT_TYPES,
            SYNC2BOOKS_RECEIPTS_KINDS,
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
        return await self.client.upload_attachment(connection_id, expense_id, file_name, content, content_type)

    async def subscribe_webhooks(self, url: str) -> tuple[str, str]:
        """Subscribe ``url`` to every event; answers (subscription id, signing secret)."""
        created = await self.client.create_webhook(url)
        assert created.secret is not None  # the contract shows it in this answer
        return created.id, created.secret

    async def unsubscribe_webhooks(self, subscription_id: str) -> None:
        await self.client.delete_webhook(subscription_id)

    async def ping(self) -> str:
        page = await self.client.list_companies(page=1, page_size=1)
        return f"{page.total} compan{'y' if page.total == 1 else 'ies'} on this API key"

    async def aclose(self) -> None:
        await self.client.aclose()
