"""The async Sync2Books client: one class on the shared retry shell (``apiclient.retry``), typed errors.

Only calls that are safe to repeat are retried after the request may have reached the service (5xx,
read timeouts, dropped connections): GET, PUT, PATCH, expense POSTs (idempotent by expense id) and
attachment POSTs (idempotent by the file's sha256). A refused connection and a 429 are retried for every
call, because then the service never handled the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from apiclient import wire
from apiclient.retry import DEFAULT_TIMEOUT, RetryingClient, RetryPolicy, path_segment
from sync2books.errors import Sync2BooksAPIError, Sync2BooksTransportError, error_from_response
from sync2books.models import (
    Attachment,
    AuthUrl,
    BatchStatus,
    Company,
    CompanyConfig,
    CompanyCreate,
    Connection,
    ConnectionStatus,
    Expense,
    ExpensesAccepted,
    IntegrationKey,
    Page,
    ReferenceKind,
    Results,
    SyncBatch,
    WebhookEventType,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    WireModel,
)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=WireModel)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGE_SIZE = 500


class Sync2BooksClient(RetryingClient):
    service = "Sync2Books"
    # A 429 was never handled; other faults may come after the service handled the call.
    retried_always = frozenset({429})

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not api_key.strip():
            raise ValueError("A Sync2Books API key is required (sk_live_… or sk_test_…)")
        super().__init__(
            base_url,
            f"Bearer {api_key}",
            timeout=timeout,
            retry=retry,
            transport=transport,
            event_hooks=event_hooks,
            sleep=sleep,
        )

    def retried_if_idempotent(self, status: int) -> bool:
        return status in RETRIED_STATUSES

    def error_from(self, response: httpx.Response) -> Sync2BooksAPIError:
        return error_from_response(response)

    def transport_error(self, text: str) -> Sync2BooksTransportError:
        return Sync2BooksTransportError(text)

    async def _get(self, path: str, model: type[M], params: Any = None) -> M:
        response = await self.request("GET", path, idempotent=True, params=params)
        return model.model_validate(wire.loads(response.content))

    async def _send(self, method: str, path: str, model: type[M], body: Any, *, idempotent: bool) -> M:
        response = await self.request(method, path, idempotent=idempotent, json=body)
        return model.model_validate(wire.loads(response.content))

    async def iter_pages(
        self, path: str, model: type[R], params: Mapping[str, Any] | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[R]:
        """Every item of a paginated list, page after page."""
        page = 1
        while True:
            answer = await self._get(path, Page[model], {**(params or {}), "page": page, "pageSize": page_size})  # type: ignore[valid-type]
            for item in answer.results:
                yield item
            if not answer.results or page * answer.page_size >= answer.total:
                return
            page += 1

    # ------------------------------------------------------------------ companies

    async def create_company(self, name: str, description: str | None = None) -> Company:
        # Not retried after it may have been handled: a second POST would create a second company.
        body = CompanyCreate(name=name, description=description)
        return await self._send("POST", "/companies", Company, body, idempotent=False)

    async def get_company(self, company_id: str) -> Company:
        return await self._get(f"/companies/{path_segment(company_id)}", Company)

    async def list_companies(self, *, page: int = 1, page_size: int = 100) -> Page[Company]:
        return await self._get("/companies", Page[Company], {"page": page, "pageSize": page_size})

    async def get_company_config(self, company_id: str) -> CompanyConfig:
        return await self._get(f"/companies/{path_segment(company_id)}/config", CompanyConfig)

    # ------------------------------------------------------------------ integrations and connections

    async def get_auth_url(self, company_id: str, integration_key: IntegrationKey | str) -> AuthUrl:
        key = IntegrationKey(integration_key).value if isinstance(integration_key, IntegrationKey) else integration_key
        return await self._get(
            f"/companies/{path_segment(company_id)}/integrations/{path_segment(key)}/auth-url", AuthUrl
        )

    async def list_connections(self, company_id: str) -> list[Connection]:
        return (await self._get(f"/companies/{path_segment(company_id)}/connections", Results[Connection])).results

    async def disconnect(self, company_id: str, connection_id: str) -> Connection:
        return await self._send(
            "PATCH",
            f"/companies/{path_segment(company_id)}/connections/{path_segment(connection_id)}",
            Connection,
            {"status": ConnectionStatus.DISCONNECTED.value},
            idempotent=True,
        )

    # ------------------------------------------------------------------ reference data

    async def all_reference(
        self, connection_id: str, kind: ReferenceKind, model: type[R], *, query: str | None = None
    ) -> list[R]:
        params = {"query": query} if query else None
        return [
            item
            async for item in self.iter_pages(f"/connections/{path_segment(connection_id)}/{kind.value}", model, params)
        ]

    # ------------------------------------------------------------------ expenses and attachments

    async def create_expenses(self, connection_id: str, expenses: Sequence[Expense]) -> ExpensesAccepted:
        """Queue 1–50 expenses as one sync batch; sending the same ids again is safe (idempotent)."""
        return await self._send(
            "POST", f"/expenses/{path_segment(connection_id)}", ExpensesAccepted, list(expenses), idempotent=True
        )

    async def upload_attachment(
        self, connection_id: str, expense_id: str, file_name: str, content: bytes, content_type: str
    ) -> Attachment:
        # Idempotent: the same bytes again answer the existing attachment rather than adding one.
        response = await self.request(
            "POST",
            f"/expenses/{path_segment(connection_id)}/{path_segment(expense_id)}/attachments",
            idempotent=True,
            files={"file": (file_name, content, content_type)},
        )
        return Attachment.model_validate(wire.loads(response.content))

    # ------------------------------------------------------------------ sync batches

    async def get_sync_batch(self, sync_batch_id: str) -> SyncBatch:
        return await self._get(f"/sync-batches/{path_segment(sync_batch_id)}", SyncBatch)

    async def list_sync_batches(
        self,
        *,
        company_id: str | None = None,
        connection_id: str | None = None,
        statuses: Sequence[BatchStatus] = (),
        updated_since: datetime | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> Page[SyncBatch]:
        params = _batch_filters(company_id, connection_id, statuses, updated_since)
        params += [("page", page), ("pageSize", page_size)]
        return await self._get("/sync-batches", Page[SyncBatch], params)

    async def iter_sync_batches(
        self,
        *,
        company_id: str | None = None,
        connection_id: str | None = None,
        statuses: Sequence[BatchStatus] = (),
        updated_since: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[SyncBatch]:
        """Every batch that changed after ``updated_since``, oldest change first, each (id, updatedAt) once.

        Pages are walked by moving ``updatedSince`` to the last change seen rather than by page number,
        so a batch that changes while we read moves to the end of the list instead of shifting the pages
        under us. Changes that share the boundary instant are re-read and skipped if already given.
        """
        cursor = updated_since
        given_at_cursor: set[str] = set()
        page = 1
        overlap = False  # the caller's own updated_since is exclusive; only our page boundaries overlap
        while True:
            since = cursor - timedelta(microseconds=1) if cursor is not None and overlap else cursor
            answer = await self.list_sync_batches(
                company_id=company_id,
                connection_id=connection_id,
                statuses=statuses,
                updated_since=since,
                page=page,
                page_size=page_size,
            )
            fresh = [b for b in answer.results if not (b.updated_at == cursor and b.id in given_at_cursor)]
            for batch in fresh:
                yield batch
            if len(answer.results) < page_size:
                return
            if not fresh:
                # A whole page shares one instant: only a page number can move past it.
                page += 1
                continue
            page, overlap = 1, True
            last = fresh[-1].updated_at
            if last != cursor:
                cursor, given_at_cursor = last, set()
            given_at_cursor.update(b.id for b in fresh if b.updated_at == cursor)

    # ------------------------------------------------------------------ webhooks

    async def create_webhook(self, url: str, events: Sequence[WebhookEventType] | None = None) -> WebhookSubscription:
        """Subscribe ``url``; the answer carries the signing secret, which is never shown again."""
        body = WebhookSubscriptionCreate(url=url, events=list(events) if events else None)
        # Not retried after it may have been handled: a second POST would make a second subscription.
        return await self._send("POST", "/webhooks", WebhookSubscription, body, idempotent=False)

    async def delete_webhook(self, subscription_id: str) -> None:
        await self.request("DELETE", f"/webhooks/{subscription_id}", idempotent=True)


def _batch_filters(
    company_id: str | None, connection_id: str | None, statuses: Sequence[BatchStatus], updated_since: datetime | None
) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = []
    if company_id:
        params.append(("companyId", company_id))
    if connection_id:
        params.append(("connectionId", connection_id))
    params.extend(("status", BatchStatus(status).value) for status in statuses)
    if updated_since is not None:
        params.append(("updatedSince", wire.utc_z(updated_since)))
    return params


__all__ = ["RetryPolicy", "Sync2BooksAPIError", "Sync2BooksClient"]
