"""The Sync2Books client plus what only tests and benchmarks call: the sandbox's own endpoints, and the contract's
calls the bot itself never makes (reference lists by kind, single reads, deletes, webhook listings)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

from apiclient import wire
from apiclient.retry import path_segment
from sync2books.client import Sync2BooksClient
from sync2books.models import (
    Account,
    Attachment,
    BankAccount,
    Company,
    CompanyConfig,
    Connection,
    ConnectionStatus,
    Customer,
    ExpenseRecord,
    Integration,
    Page,
    ReferenceKind,
    Results,
    SandboxSettings,
    Supplier,
    TaxRate,
    TrackingCategory,
    WebhookSubscription,
    WireModel,
)

R = TypeVar("R", bound=WireModel)


class SandboxClient(Sync2BooksClient):
    """The client plus the sandbox's own endpoints and the test-only calls, for tests and benchmarks."""

    def iter_companies(self) -> AsyncIterator[Company]:
        return self.iter_pages("/companies", Company)

    async def delete_company(self, company_id: str) -> None:
        await self.request("DELETE", f"/companies/{path_segment(company_id)}", idempotent=False)

    async def put_company_config(self, company_id: str, config: CompanyConfig) -> CompanyConfig:
        # Sent whole, nulls included: a null default is how a default is cleared.
        response = await self.request(
            "PUT", f"/companies/{path_segment(company_id)}/config", idempotent=True, json=wire.to_data(config)
        )
        return CompanyConfig.model_validate(wire.loads(response.content))

    async def list_integrations(self) -> list[Integration]:
        return (await self._get("/integrations", Results[Integration])).results

    async def get_connection(self, company_id: str, connection_id: str) -> Connection:
        return await self._get(
            f"/companies/{path_segment(company_id)}/connections/{path_segment(connection_id)}", Connection
        )

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

    async def get_expense(self, connection_id: str, expense_id: str) -> ExpenseRecord:
        return await self._get(f"/expenses/{path_segment(connection_id)}/{path_segment(expense_id)}", ExpenseRecord)

    async def list_attachments(self, connection_id: str, expense_id: str) -> list[Attachment]:
        path = f"/expenses/{path_segment(connection_id)}/{path_segment(expense_id)}/attachments"
        return (await self._get(path, Results[Attachment])).results

    async def list_webhooks(self) -> list[WebhookSubscription]:
        return (await self._get("/webhooks", Results[WebhookSubscription])).results

    # ------------------------------------------------------------------ the sandbox's own endpoints

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
