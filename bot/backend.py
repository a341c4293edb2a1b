"""The expense-sync service as the bot's services see it: one interface, one adapter per service.

Sync2Books is the first adapter; Codat's Sync for Expenses will be the second. Services depend on
``ExpenseSyncBackend`` only, so neither handlers nor Block Kit builders know which one runs. Failures
are the typed errors of ``sync2books.errors`` whichever service answers.
"""

from __future__ import annotations

from typing import Protocol

from sync2books.client import Sync2BooksClient
from sync2books.models import AuthUrl, Company, Connection, IntegrationKey


class ExpenseSyncBackend(Protocol):
    """Companies, authorization links and connections (expenses and batches join in later issues)."""

    name: str

    async def create_company(self, name: str, description: str | None) -> Company: ...

    async def get_company(self, company_id: str) -> Company: ...

    async def auth_link(self, company_id: str, software: IntegrationKey) -> AuthUrl: ...

    async def connections(self, company_id: str) -> list[Connection]: ...

    async def disconnect(self, company_id: str, connection_id: str) -> Connection: ...

    async def ping(self) -> str:
        """A cheap authenticated call; answers a line saying what answered."""
        ...

    async def aclose(self) -> None: ...


class Sync2BooksBackend:
    name = "Sync2Books"

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

    async def ping(self) -> str:
        page = await self.client.list_companies(page=1, page_size=1)
        return f"{page.total} compan{'y' if page.total == 1 else 'ies'} on this API key"

    async def aclose(self) -> None:
        await self.client.aclose()
