"""The async client for Codat's Sync for Expenses API: one class, explicit timeouts, typed errors, retries in one place.

Built on the retry shell both clients share (``apiclient``: its ``RetryPolicy``, the bases of the typed errors,
exact-decimal JSON). Retries follow Codat's SDKs (408, 429 and 5xx, exponential backoff with jitter, ``Retry-After``
honoured), narrowed to what is safe to repeat:

- 429, 408 and 503 say the request was not handled, and a refused connection that it was never sent: these are
  retried for every call;
- other 5xx, read timeouts and dropped connections may come after Codat handled the request: these are retried
  only for idempotent calls (GET, PATCH, and the expense POST, which Codat de-duplicates by transaction id).

The API key travels only in the ``Authorization`` header; no message, log line or ``repr`` contains it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from apiclient import wire
from apiclient.retry import RetryingClient, RetryPolicy, path_segment
from codat.errors import CodatAPIError, CodatTransportError, codat_error_from_response
from codat.models import (
    MAX_EXPENSES_PER_REQUEST,
    CodatAttachment,
    CodatCompany,
    CodatConnection,
    CodatCustomer,
    CodatPage,
    CodatSupplier,
    CompanyConfiguration,
    CompanyInformation,
    CompanySyncStatus,
    ConnectionState,
    CreateExpenseResponse,
    ExpenseTransaction,
    MappingOptions,
    SyncTransaction,
    codat_company_name,
)

M = TypeVar("M", bound=BaseModel)

DEFAULT_BASE_URL = "https://api.codat.io"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=60.0, pool=10.0)
# Codat's SDKs retry 408, 429 and 5xx. These three say the request was not handled, so they are retried for every
# call; any other 5xx only for idempotent calls.
NOT_HANDLED_STATUSES = frozenset({408, 429, 503})
CONNECTIONS_PAGE_SIZE = 100
REFERENCE_PAGE_SIZE = 1000
SYNC_TRANSACTIONS_PAGE_SIZE = 100


class CodatClient(RetryingClient):
    service = "Codat"
    # 408, 429 and 503 say Codat did not handle the call; any other 5xx may come after it did.
    retried_always = NOT_HANDLED_STATUSES

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not api_key.strip():
            raise ValueError("A Codat API key is required (Codat Portal → Developers → API keys)")
        token = base64.b64encode(api_key.encode("utf-8")).decode("ascii")
        # Kept only to scrub them from error text that might (against the contract) echo them back.
        self._secrets = (api_key, token)
        super().__init__(base_url, f"Basic {token}", timeout=timeout, retry=retry, transport=transport, sleep=sleep)

    def retried_if_idempotent(self, status: int) -> bool:
        return status >= 500

    def error_from(self, response: httpx.Response) -> CodatAPIError:
        return self._scrubbed(codat_error_from_response(response))

    def transport_error(self, text: str) -> CodatTransportError:
        return CodatTransportError(text)

    def _scrubbed(self, error: CodatAPIError) -> CodatAPIError:
        """The error again with the key blanked out, should Codat's text ever have echoed it."""
        texts = [error.message] + [d.field + d.message for d in error.details]
        if not any(secret in text for secret in self._secrets for text in texts):
            return error

        def clean(text: str) -> str:
            for secret in self._secrets:
                text = text.replace(secret, "[redacted]")
            return text

        details = [d.model_copy(update={"field": clean(d.field), "message": clean(d.message)}) for d in error.details]
        return type(error)(error.status, error.code, clean(error.message), details, error.request_id, error.retry_after)

    # ------------------------------------------------------------------ answers into models

    @staticmethod
    def _bad_response(response: httpx.Response, what: str, problem: str) -> CodatAPIError:
        request = response.request
        return CodatAPIError(
            response.status_code,
            "bad_response",
            f"Codat's answer to {request.method} {request.url.path} was not {what}: {problem}",
        )

    @classmethod
    def _parse(cls, response: httpx.Response, model: type[M]) -> M:
        return cls._parse_data(response, cls._json(response, model.__name__), model)

    @classmethod
    def _parse_list(cls, response: httpx.Response, model: type[M]) -> list[M]:
        what = f"a list of {model.__name__}"
        data = cls._json(response, what)
        if not isinstance(data, list):
            raise cls._bad_response(response, what, f"it is a JSON {type(data).__name__}, not a list")
        return [cls._parse_data(response, item, model) for item in data]

    @classmethod
    def _json(cls, response: httpx.Response, what: str) -> Any:
        try:
            return wire.loads(response.content)
        except wire.NotJSONError:
            raise cls._bad_response(response, what, "the body is not JSON") from None

    @classmethod
    def _parse_data(cls, response: httpx.Response, data: Any, model: type[M]) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Field names and pydantic's wording only; never the values, which are Codat's data.
            problems = [
                f"{'.'.join(str(part) for part in error['loc']) or 'the body'} {error['msg'].lower()}"
                for error in exc.errors(include_url=False, include_input=False)
            ]
            more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
            raise cls._bad_response(response, model.__name__, "; ".join(problems[:3]) + more) from None

    async def _get(self, path: str, model: type[M], params: Any = None) -> M:
        response = await self.request("GET", path, idempotent=True, params=params)
        return self._parse(response, model)

    async def _all_pages(self, path: str, model: type[M], page_size: int) -> list[M]:
        """Every item of a paged list: page after page until a short page, an empty one, or totalResults."""
        items: list[M] = []
        page = 1
        while True:
            answer = await self._get(path, CodatPage[model], {"page": page, "pageSize": page_size})  # type: ignore[valid-type]
            items.extend(answer.results)
            served = answer.page_size if answer.page_size > 0 else page_size
            if not answer.results or len(answer.results) < served or len(items) >= answer.total_results:
                return items
            page += 1

    # ------------------------------------------------------------------ companies

    async def create_company(self, name: str, description: str | None = None) -> CodatCompany:
        """Create a company; characters Codat's name pattern refuses are removed first, as Codat itself would."""
        body: dict[str, Any] = {"name": codat_company_name(name)}
        if description is not None:
            body["description"] = description
        # Not retried after it may have been handled: a second POST would create a second company.
        response = await self.request("POST", "/companies", idempotent=False, json=body)
        return self._parse(response, CodatCompany)

    async def get_company(self, company_id: str) -> CodatCompany:
        return await self._get(f"/companies/{path_segment(company_id, 'company id')}", CodatCompany)

    async def list_companies(self, page: int = 1, page_size: int = 1) -> CodatPage[CodatCompany]:
        return await self._get("/companies", CodatPage[CodatCompany], {"page": page, "pageSize": page_size})

    # ------------------------------------------------------------------ connections

    async def list_connections(self, company_id: str) -> list[CodatConnection]:
        path = f"/companies/{path_segment(company_id, 'company id')}/connections"
        return await self._all_pages(path, CodatConnection, CONNECTIONS_PAGE_SIZE)

    async def create_connection(self, company_id: str, platform_key: str) -> CodatConnection:
        path = f"/companies/{path_segment(company_id, 'company id')}/connections"
        response = await self.request("POST", path, idempotent=False, json={"platformKey": platform_key})
        return self._parse(response, CodatConnection)

    async def unlink_connection(self, company_id: str, connection_id: str) -> CodatConnection:
        company, connection = path_segment(company_id, "company id"), path_segment(connection_id, "connection id")
        path = f"/companies/{company}/connections/{connection}"
        body = {"status": ConnectionState.UNLINKED.value}
        response = await self.request("PATCH", path, idempotent=True, json=body)
        return self._parse(response, CodatConnection)

    async def create_partner_expense_connection(self, company_id: str) -> CodatConnection:
        path = f"/companies/{path_segment(company_id, 'company id')}/sync/expenses/connections/partnerExpense"
        response = await self.request("POST", path, idempotent=False)
        return self._parse(response, CodatConnection)

    # ------------------------------------------------------------------ the company's books

    async def get_company_info(self, company_id: str) -> CompanyInformation:
        return await self._get(f"/companies/{path_segment(company_id, 'company id')}/data/info", CompanyInformation)

    async def get_config(self, company_id: str) -> CompanyConfiguration:
        path = f"/companies/{path_segment(company_id, 'company id')}/sync/expenses/config"
        return await self._get(path, CompanyConfiguration)

    async def get_mapping_options(self, company_id: str) -> MappingOptions:
        path = f"/companies/{path_segment(company_id, 'company id')}/sync/expenses/mappingOptions"
        return await self._get(path, MappingOptions)

    async def list_suppliers(self, company_id: str) -> list[CodatSupplier]:
        path = f"/companies/{path_segment(company_id, 'company id')}/data/suppliers"
        return await self._all_pages(path, CodatSupplier, REFERENCE_PAGE_SIZE)

    async def list_customers(self, company_id: str) -> list[CodatCustomer]:
        path = f"/companies/{path_segment(company_id, 'company id')}/data/customers"
        return await self._all_pages(path, CodatCustomer, REFERENCE_PAGE_SIZE)

    # ------------------------------------------------------------------ expenses

    async def create_expense_transactions(
        self, company_id: str, transactions: Sequence[ExpenseTransaction]
    ) -> CreateExpenseResponse:
        """Send 1–50 transactions as one sync; Codat refuses an id it has seen (its duplicate protection)."""
        count = len(transactions)
        if not 1 <= count <= MAX_EXPENSES_PER_REQUEST:
            raise ValueError(f"Codat takes 1 to {MAX_EXPENSES_PER_REQUEST} expense transactions at a time, not {count}")
        path = f"/companies/{path_segment(company_id, 'company id')}/sync/expenses/expense-transactions"
        response = await self.request("POST", path, idempotent=True, json=list(transactions))
        return self._parse(response, CreateExpenseResponse)

    # ------------------------------------------------------------------ syncs

    def _syncs(self, company_id: str) -> str:
        return f"/companies/{path_segment(company_id, 'company id')}/sync/expenses/syncs"

    async def get_sync_status(self, company_id: str, sync_id: str) -> CompanySyncStatus:
        path = f"{self._syncs(company_id)}/{path_segment(sync_id, 'sync id')}/status"
        return await self._get(path, CompanySyncStatus)

    async def list_sync_statuses(self, company_id: str) -> list[CompanySyncStatus]:
        response = await self.request("GET", f"{self._syncs(company_id)}/list/status", idempotent=True)
        return self._parse_list(response, CompanySyncStatus)

    async def list_sync_transactions(self, company_id: str, sync_id: str) -> list[SyncTransaction]:
        path = f"{self._syncs(company_id)}/{path_segment(sync_id, 'sync id')}/transactions"
        return await self._all_pages(path, SyncTransaction, SYNC_TRANSACTIONS_PAGE_SIZE)

    async def upload_attachment(
        self,
        company_id: str,
        sync_id: str,
        transaction_id: str,
        file_name: str,
        content: bytes,
        content_type: str,
    ) -> CodatAttachment:
        path = (
            f"{self._syncs(company_id)}/{path_segment(sync_id, 'sync id')}"
            f"/transactions/{path_segment(transaction_id, 'transaction id')}/attachments"
        )
        # Not retried after it may have been handled: Codat does not say a second upload is harmless.
        response = await self.request(
            "POST", path, idempotent=False, files={"file": (file_name, content, content_type)}
        )
        return self._parse(response, CodatAttachment)


__all__ = ["DEFAULT_BASE_URL", "CodatClient", "RetryPolicy"]
