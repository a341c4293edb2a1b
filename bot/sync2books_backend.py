"""The first adapter of the expense-sync port: Sync2Books, through ``sync2books.client``.

The port speaks the contract's own value types, so this adapter mostly forwards; what it settles is that the
client's errors (``sync2books.errors``) reach the services as the port's errors (``bot.backend``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.backend import (
    AuthLink,
    BackendUnavailable,
    Conflict,
    ConnectionNotConnected,
    ExpenseSyncError,
    FileRefused,
    KeyRefused,
    NotFound,
    OpenBatch,
    RateLimited,
    ReceiptRules,
    Rejected,
    ServiceConnection,
    WebhookNews,
)
from bot.software import Software, SoftwareCatalog
from sync2books.client import MAX_PAGE_SIZE, Sync2BooksClient
from sync2books.errors import (
    ConflictError,
    ConnectionNotConnectedError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    Sync2BooksAPIError,
    Sync2BooksError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)
from sync2books.models import (
    ACCEPTED_ATTACHMENT_TYPES,
    INTEGRATION_NAMES,
    MAX_ATTACHMENT_BYTES,
    REFERENCE_MODELS,
    Attachment,
    Company,
    CompanyConfig,
    Connection,
    Expense,
    ExpensesAccepted,
    IntegrationKey,
    ReferenceKind,
    SyncBatch,
    WebhookEvent,
    WebhookEventType,
    WireModel,
)

log = logging.getLogger(__name__)

_SYNC2BOOKS_NAMES: dict[IntegrationKey, tuple[str, ...]] = {
    IntegrationKey.QUICKBOOKS: ("quickbooks", "qbo"),
    IntegrationKey.QUICKBOOKS_DESKTOP: ("quickbooks-desktop", "qbd"),
    IntegrationKey.XERO: ("xero",),
    IntegrationKey.SAGE: ("sage",),
}

SYNC2BOOKS_SOFTWARE = SoftwareCatalog(
    [Software(key.value, INTEGRATION_NAMES[key], names) for key, names in _SYNC2BOOKS_NAMES.items()]
)

# Most specific first: ConnectionNotConnectedError is a ConflictError.
_KINDS: tuple[tuple[type[Sync2BooksAPIError], type[ExpenseSyncError]], ...] = (
    (ConnectionNotConnectedError, ConnectionNotConnected),
    (ConflictError, Conflict),
    (NotFoundError, NotFound),
    (ValidationFailedError, Rejected),
    (PayloadTooLargeError, FileRefused),
    (UnsupportedMediaTypeError, FileRefused),
    (RateLimitedError, RateLimited),
    (ServerError, BackendUnavailable),
)


def port_error(exc: Sync2BooksError) -> ExpenseSyncError:
    """The port's error for a Sync2Books client error: the same words, status, code and details."""
    if not isinstance(exc, Sync2BooksAPIError):
        return BackendUnavailable(str(exc))
    kind = next((port for client, port in _KINDS if isinstance(exc, client)), None)
    if kind is None:
        kind = KeyRefused if exc.status in (401, 403) else ExpenseSyncError
    return kind.answered(exc)


@contextmanager
def _in_port_terms() -> Iterator[None]:
    try:
        yield
    except Sync2BooksError as exc:
        raise port_error(exc) from exc


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
        with _in_port_terms():
            return await self.client.create_company(name, description)

    async def get_company(self, company_id: str) -> Company:
        with _in_port_terms():
            return await self.client.get_company(company_id)

    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        with _in_port_terms():
            answers = await asyncio.gather(*(self.client.get_auth_url(company_id, IntegrationKey(k)) for k in software))
        return [AuthLink(answer.auth_url, answer.expires_at) for answer in answers]

    async def connections(self, company_id: str) -> list[ServiceConnection]:
        with _in_port_terms():
            return [_service_connection(c) for c in await self.client.list_connections(company_id)]

    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection:
        with _in_port_terms():
            return _service_connection(await self.client.disconnect(company_id, connection_id))

    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        with _in_port_terms():
            return list(await self.client.all_reference(connection_id, kind, REFERENCE_MODELS[kind]))

    async def company_config(self, company_id: str) -> CompanyConfig:
        with _in_port_terms():
            return await self.client.get_company_config(company_id)

    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        with _in_port_terms():
            return await self.client.create_expenses(connection_id, expenses)

    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch:
        with _in_port_terms():
            return await self.client.get_sync_batch(sync_batch_id)

    async def changed_batches(
        self, since: datetime | None, open_batches: Sequence[OpenBatch]
    ) -> AsyncIterator[SyncBatch]:
        # One listing across every company of the API key covers the open batches too.
        with _in_port_terms():
            async for batch in self.client.iter_sync_batches(updated_since=since, page_size=MAX_PAGE_SIZE):
                yield batch

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
        with _in_port_terms():
            return await self.client.upload_attachment(connection_id, expense_id, file_name, content, content_type)

    async def subscribe_webhooks(self, url: str) -> tuple[str, str]:
        """Subscribe ``url`` to every event; answers (subscription id, signing secret)."""
        with _in_port_terms():
            created = await self.client.create_webhook(url)
        assert created.secret is not None  # the contract shows it in this answer
        return created.id, created.secret

    async def unsubscribe_webhooks(self, subscription_id: str) -> None:
        with _in_port_terms():
            await self.client.delete_webhook(subscription_id)

    def read_webhook(self, body: Any) -> WebhookNews | None:
        event = WebhookEvent.model_validate(body)
        kind = event.known_type
        if kind is None:
            log.info("ignored a Sync2Books webhook of unknown type %r", event.type[:60])
            return None
        if kind == WebhookEventType.CONNECTION_STATUS_CHANGED:
            return WebhookNews(event.connection().company_id)
        batch = event.batch()
        return WebhookNews(batch.company_id, batch)

    async def ping(self) -> str:
        with _in_port_terms():
            page = await self.client.list_companies(page=1, page_size=1)
        return f"{page.total} compan{'y' if page.total == 1 else 'ies'} on this API key"

    async def aclose(self) -> None:
        await self.client.aclose()
