"""The async Sync2Books client: one class, explicit timeouts, typed errors, retries in one place.

Only calls that are safe to repeat are retried after the request may have reached the service (5xx,
read timeouts, dropped connections): GET, PUT, PATCH, expense POSTs (idempotent by expense id) and
attachment POSTs (idempotent by the file's sha256). A refused connection and a 429 are retried for every
call, because then the service never handled the request.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from sync2books import wire
from sync2books.errors import (
    Sync2BooksAPIError,
    Sync2BooksTransportError,
    error_from_response,
    retry_after_seconds,
)
from sync2books.models import (
    Account,
    Attachment,
    AuthUrl,
    BankAccount,
    BatchStatus,
    Company,
    CompanyConfig,
    CompanyCreate,
    Connection,
    ConnectionStatus,
    Customer,
    Expense,
    ExpenseRecord,
    ExpensesAccepted,
    Integration,
    IntegrationKey,
    Page,
    ReferenceKind,
    Results,
    SandboxSettings,
    Supplier,
    SyncBatch,
    TaxRate,
    TrackingCategory,
    WebhookEventType,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    WireModel,
)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R", bound=WireModel)

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter; ``Retry-After`` wins when it is given."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    # A Retry-After longer than this is not waited out: the caller hears RateLimitedError instead.
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            # A little jitter on top, so clients told the same pause do not return in one burst.
            return retry_after + rng.uniform(0, self.backoff_base)
        return self.backoff(attempt, rng)


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Our own malformed request: sending it again cannot help.
_NEVER_RETRIED = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def path_segment(value: str, what: str = "id") -> str:
    """One path segment, escaped: an id is data, so ``../sandbox/settings`` can never address another
    endpoint, and an empty one would silently address a listing."""
    if not value:
        raise ValueError(f"An empty {what} names no resource")
    return quote(value, safe="")


class RetryingClient(ABC):
    """What both services' clients share: one httpx client, one way to send a call with bounded retries, closing.

    A subclass names its service, the answers that mean the service did not handle the request (so any call
    may go again), the faults after which only a call that is safe to repeat goes again, and how an error
    answer becomes a typed error. Log lines and errors name the method and path, never a header, so no key
    reaches them.
    """

    service: ClassVar[str]
    retried_always: ClassVar[frozenset[int]]

    def __init__(
        self,
        base_url: str,
        authorization: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()  # noqa: S311 - jitter, not security
        self._log = logging.getLogger(type(self).__module__)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": authorization, "User-Agent": "sync2books-slack/0.1"},
            timeout=timeout,
            transport=transport,
            event_hooks=dict(event_hooks or {}),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    def retried_if_idempotent(self, status: int) -> bool:
        """Faults after which only a call safe to repeat goes again (the service may have handled it)."""

    @abstractmethod
    def error_from(self, response: httpx.Response) -> Sync2BooksAPIError:
        """The typed error for an error answer, read from the service's own error body."""

    # ------------------------------------------------------------------ the one place requests are made

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Any = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """Send one call, retrying what is safe to retry; answer the 2xx response or raise a typed error."""
        content = wire.dumps(json, exclude_none=True) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        url = path.lstrip("/")
        retry, service = self.retry, self.service
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, params=params, content=content, files=files, headers=headers
                )
            except httpx.TransportError as exc:
                retriable = not isinstance(exc, _NEVER_RETRIED) and (isinstance(exc, _NOT_SENT) or idempotent)
                if not retriable or attempt >= retry.max_retries:
                    raise Sync2BooksTransportError(
                        f"{service} {method} /{url} failed: {type(exc).__name__}"
                        + (f" after {attempt + 1} attempts" if attempt else "")
                    ) from exc
                pause = retry.delay(attempt, None, self._rng)
                self._log.warning(
                    "%s %s /%s: %s; retry %d of %d in %.2fs",
                    service,
                    method,
                    url,
                    type(exc).__name__,
                    attempt + 1,
                    retry.max_retries,
                    pause,
                )
            else:
                if response.is_success:
                    return response
                status = response.status_code
                retriable = status in self.retried_always or (idempotent and self.retried_if_idempotent(status))
                retry_after = retry_after_seconds(response)
                too_long = retry_after is not None and retry_after > retry.max_retry_after
                if not retriable or attempt >= retry.max_retries or too_long:
                    raise self.error_from(response)
                pause = retry.delay(attempt, retry_after, self._rng)
                request_id = response.headers.get("x-request-id")
                self._log.warning(
                    "%s %s /%s answered %d%s; retry %d of %d in %.2fs",
                    service,
                    method,
                    url,
                    status,
                    f" (request {request_id})" if request_id else "",
                    attempt + 1,
                    retry.max_retries,
                    pause,
                )
            attempt += 1
            await self._sleep(pause)


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

    def iter_companies(self) -> AsyncIterator[Company]:
        return self.iter_pages("/companies", Company)

    async def delete_company(self, company_id: str) -> None:
        await self.request("DELETE", f"/companies/{path_segment(company_id)}", idempotent=False)

    async def get_company_config(self, company_id: str) -> CompanyConfig:
        return await self._get(f"/companies/{path_segment(company_id)}/config", CompanyConfig)

    async def put_company_config(self, company_id: str, config: CompanyConfig) -> CompanyConfig:
        # Sent whole, nulls included: a null default is how a default is cleared.
        response = await self.request(
            "PUT", f"/companies/{path_segment(company_id)}/config", idempotent=True, json=wire.to_data(config)
        )
        return CompanyConfig.model_validate(wire.loads(response.content))

    # ------------------------------------------------------------------ integrations and connections

    async def list_integrations(self) -> list[Integration]:
        return (await self._get("/integrations", Results[Integration])).results

    async def get_auth_url(self, company_id: str, integration_key: IntegrationKey | str) -> AuthUrl:
        key = IntegrationKey(integration_key).value if isinstance(integration_key, IntegrationKey) else integration_key
        return await self._get(
            f"/companies/{path_segment(company_id)}/integrations/{path_segment(key)}/auth-url", AuthUrl
        )

    async def list_connections(self, company_id: str) -> list[Connection]:
        return (await self._get(f"/companies/{path_segment(company_id)}/connections", Results[Connection])).results

    async def get_connection(self, company_id: str, connection_id: str) -> Connection:
        return await self._get(
            f"/companies/{path_segment(company_id)}/connections/{path_segment(connection_id)}", Connection
        )

    async def disconnect(self, company_id: str, connection_id: str) -> Connection:
        return await self._send(
            "PATCH",
            f"/companies/{path_segment(company_id)}/connections/{path_segment(connection_id)}",
            Connection,
            {"status": ConnectionStatus.DISCONNECTED.value},
            idempotent=True,
        )

    # ------------------------------------------------------------------ reference data

    async def list_reference(
        self,
        connection_id: str,
        kind: ReferenceKind,
        model: type[R],
        *,
        query: str | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> Page[R]:
        params: dict[str, Any] = {"page": page, "pageSize": page_size}
        if query:
            params["query"] = query
        return await self._get(f"/connections/{path_segment(connection_id)}/{kind.value}", Page[model], params)  # type: ignore[valid-type]

    async def all_reference(
        self, connection_id: str, kind: ReferenceKind, model: type[R], *, query: str | None = None
    ) -> list[R]:
        params = {"query": query} if query else None
        return [
            item
            async for item in self.iter_pages(f"/connections/{path_segment(connection_id)}/{kind.value}", model, params)
        ]

    async def accounts(self, connection_id: str, query: str | None = None) -> list[Account]:
        return await self.all_reference(connection_id, ReferenceKind.ACCOUNTS, Account, query=query)

    async def tax_rates(self, connection_id: str, query: str | None = None) -> list[TaxRate]:
        return await self.all_reference(connection_id, ReferenceKind.TAX_RATES, TaxRate, query=query)

    async def suppliers(self, connection_id: str, query: str | None = None) -> list[Supplier]:
        return await self.all_reference(connection_id, ReferenceKind.SUPPLIERS, Supplier, query=query)

    async def customers(self, connection_id: str, query: str | None = None) -> list[Customer]:
        return await self.all_reference(connection_id, ReferenceKind.CUSTOMERS, Customer, query=query)

    async def bank_accounts(self, connection_id: str, query: str | None = None) -> list[BankAccount]:
        return await self.all_reference(connection_id, ReferenceKind.BANK_ACCOUNTS, BankAccount, query=query)

    async def tracking_categories(self, connection_id: str, query: str | None = None) -> list[TrackingCategory]:
        return await self.all_reference(connection_id, ReferenceKind.TRACKING_CATEGORIES, TrackingCategory, query=query)

    # ------------------------------------------------------------------ expenses and attachments

    async def create_expenses(self, connection_id: str, expenses: Sequence[Expense]) -> ExpensesAccepted:
        """Queue 1–50 expenses as one sync batch; sending the same ids again is safe (idempotent)."""
        return await self._send(
            "POST", f"/expenses/{path_segment(connection_id)}", ExpensesAccepted, list(expenses), idempotent=True
        )

    async def get_expense(self, connection_id: str, expense_id: str) -> ExpenseRecord:
        return await self._get(f"/expenses/{path_segment(connection_id)}/{path_segment(expense_id)}", ExpenseRecord)

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

    async def list_attachments(self, connection_id: str, expense_id: str) -> list[Attachment]:
        path = f"/expenses/{path_segment(connection_id)}/{path_segment(expense_id)}/attachments"
        return (await self._get(path, Results[Attachment])).results

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

    async def list_webhooks(self) -> list[WebhookSubscription]:
        return (await self._get("/webhooks", Results[WebhookSubscription])).results

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


class SandboxClient(Sync2BooksClient):
    """The client plus the sandbox's own endpoints, for tests and benchmarks."""

    async def sandbox_settings(self) -> SandboxSettings:
        return await self._get("/sandbox/settings", SandboxSettings)

    async def configure_sandbox(self, **changes: Any) -> SandboxSettings:
        """``configure_sandbox(error_rate=0.5, rate_limit_per_minute=600)``; names as in SandboxSettings."""
        fields = SandboxSettings.model_fields
        body = {fields[name].alias or name: value for name, value in changes.items()}
        response = await self.request("PUT", "/sandbox/settings", idempotent=True, json=body)
        return SandboxSettings.model_validate(wire.loads(response.content))

    async def switch_connection(self, connection_id: str, status: ConnectionStatus) -> Connection:
        return await self._send(
            "POST",
            f"/sandbox/connections/{path_segment(connection_id)}/status",
            Connection,
            {"status": ConnectionStatus(status).value},
            idempotent=True,
        )


__all__ = ["RetryPolicy", "SandboxClient", "Sync2BooksAPIError", "Sync2BooksClient"]
