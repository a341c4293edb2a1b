"""Authorization links, connections, seeded reference data and company defaults, over HTTP."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from sync2books.errors import NotFoundError, ValidationFailedError
from sync2books.models import (
    Account,
    AccountType,
    CompanyConfig,
    ConnectionStatus,
    IntegrationKey,
    Ref,
    ReferenceKind,
)
from sync2books.sandbox.store import format_ts
from tests.support.sandbox import SandboxServer, authorize, connect, link_parts
from tests.support.sandbox_client import SandboxClient


async def test_authorizing_a_link_creates_one_connected_connection(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.QUICKBOOKS)
    page = await authorize(link.auth_url)
    assert page.status_code == 200 and "QuickBooks Online is connected" in page.text

    (connection,) = await client.list_connections(company.id)
    assert connection.status == ConnectionStatus.CONNECTED
    assert (connection.company_id, connection.integration_key) == (company.id, IntegrationKey.QUICKBOOKS)
    assert (connection.platform_name, connection.base_currency, connection.error) == ("QuickBooks Online", "USD", None)
    assert await client.get_connection(company.id, connection.id) == connection
    assert (await client.get_company(company.id)).connections == [connection]


async def test_a_link_works_once_and_denying_creates_nothing(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    denied_link = await client.get_auth_url(company.id, IntegrationKey.XERO)
    denied = await authorize(denied_link.auth_url, deny=True)
    assert denied.status_code == 200 and "Xero was not connected" in denied.text
    assert await client.list_connections(company.id) == []

    again = await authorize(denied_link.auth_url)
    assert again.status_code == 410 and "already been used" in again.text
    assert await client.list_connections(company.id) == []

    link = await client.get_auth_url(company.id, IntegrationKey.XERO)
    assert (await authorize(link.auth_url)).status_code == 200
    reused = await authorize(link.auth_url)
    assert reused.status_code == 410 and "already been used" in reused.text
    assert len(await client.list_connections(company.id)) == 1


async def test_an_expired_or_forged_link_shows_an_error_page(sandbox: SandboxServer, client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.SAGE)
    path, token = link_parts(link.auth_url)
    past = format_ts(link.expires_at - timedelta(hours=1))
    await sandbox.call(lambda s: s.store.db.execute("UPDATE auth_links SET expires_at = ?", (past,)))
    async with httpx.AsyncClient(base_url=sandbox.url) as browser:
        expired = await browser.get(f"{path}?token={token}")
        assert expired.status_code == 410 and "This link has expired" in expired.text
        forged = await browser.post(f"{path}/authorize", data={"token": "not-the-token"})
        assert forged.status_code == 404 and "This link is not valid" in forged.text
        other_software = await browser.get(f"{path.replace('SAGE', 'XERO')}?token={token}")
        assert other_software.status_code in (404, 410)
    assert await client.list_connections(company.id) == []


async def test_the_company_link_offers_every_software_and_then_rotates(client: SandboxClient) -> None:
    company = await client.create_company("Acme & Sons <Ltd>")
    async with httpx.AsyncClient() as browser:
        chooser = await browser.get(company.auth_url)
    assert chooser.status_code == 200
    assert chooser.headers["cache-control"] == "no-store"  # Back after a click must not show a stale form
    assert "Acme &amp; Sons &lt;Ltd&gt;" in chooser.text  # escaped, never raw HTML
    for name in ("QuickBooks Online", "QuickBooks Desktop", "Xero", "Sage"):
        assert name in chooser.text
    _, token = link_parts(company.auth_url)
    xero_link = f"{company.auth_url.split('?')[0]}/XERO?token={token}"
    assert (await authorize(xero_link)).status_code == 200
    assert [c.integration_key for c in await client.list_connections(company.id)] == [IntegrationKey.XERO]

    fresh = await client.get_company(company.id)
    assert fresh.auth_url != company.auth_url
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(company.auth_url)).status_code == 410
        assert (await browser.get(fresh.auth_url)).status_code == 200


async def test_unlinking_is_a_patch_and_twice_is_not_an_error(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    connection = await connect(client, company)
    first = await client.disconnect(company.id, connection.id)
    second = await client.disconnect(company.id, connection.id)
    assert first.status == second.status == ConnectionStatus.DISCONNECTED
    assert second.updated_at == first.updated_at

    with pytest.raises(ValidationFailedError) as refused:
        await client.request(
            "PATCH", f"/companies/{company.id}/connections/{connection.id}", idempotent=True, json={"status": "ERROR"}
        )
    assert refused.value.details[0].field == "status"
    with pytest.raises(NotFoundError):
        await client.get_connection(company.id, "00000000-0000-4000-8000-000000000000")


async def test_reauthorizing_repairs_the_same_connection(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    broken = await client.switch_connection(connection.id, ConnectionStatus.ERROR)
    assert broken.status == ConnectionStatus.ERROR
    assert broken.error is not None and broken.error.code == "token_expired"
    repaired = await connect(client, company, IntegrationKey.XERO)
    assert (repaired.id, repaired.status, repaired.error) == (connection.id, ConnectionStatus.CONNECTED, None)


@pytest.mark.parametrize("key", list(IntegrationKey))
async def test_every_connection_is_seeded_with_a_realistic_ledger(client: SandboxClient, key: IntegrationKey) -> None:
    company = await client.create_company(f"Ledger {key.value}")
    connection = await connect(client, company, key)
    accounts = await client.accounts(connection.id)
    tax_rates = await client.tax_rates(connection.id)
    banks = await client.bank_accounts(connection.id)
    categories = await client.tracking_categories(connection.id)
    assert len(accounts) >= 20 and sum(a.type == AccountType.EXPENSE for a in accounts) >= 5
    assert any(rate.effective_rate == Decimal(0) for rate in tax_rates)
    assert len(await client.suppliers(connection.id)) >= 10
    assert len(await client.customers(connection.id)) >= 5
    assert len(banks) == 2 and all(b.currency == connection.base_currency for b in banks)
    assert {b.id for b in banks} <= {a.id for a in accounts if a.is_bank_account}
    parents = {c.id for c in categories if c.parent_id is None}
    assert parents and any(c.parent_id in parents for c in categories)


async def test_reference_lists_paginate_and_filter_by_name(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    connection = await connect(client, company, IntegrationKey.XERO)
    everything = await client.accounts(connection.id)
    first = await client.list_reference(connection.id, ReferenceKind.ACCOUNTS, Account, page=1, page_size=5)
    second = await client.list_reference(connection.id, ReferenceKind.ACCOUNTS, Account, page=2, page_size=5)
    assert first.total == len(everything) and len(first.results) == 5
    assert first.results + second.results == everything[:10]

    travel = await client.accounts(connection.id, query="tRaVeL")
    assert travel and all("travel" in a.name.lower() for a in travel)
    assert len(travel) == sum("travel" in a.name.lower() for a in everything)
    assert await client.suppliers(connection.id, query="no such supplier anywhere") == []

    with pytest.raises(ValidationFailedError) as too_big:
        await client.list_reference(connection.id, ReferenceKind.ACCOUNTS, Account, page_size=501)
    assert [d.field for d in too_big.value.details] == ["pageSize"]
    with pytest.raises(ValidationFailedError) as not_a_number:
        await client.request("GET", f"/connections/{connection.id}/accounts", idempotent=True, params={"page": "x"})
    assert [d.field for d in not_a_number.value.details] == ["page"]
    with pytest.raises(NotFoundError):
        await client.accounts("00000000-0000-4000-8000-000000000000")


async def test_company_defaults_are_stored_and_cleared(client: SandboxClient) -> None:
    company = await client.create_company("Acme Ltd")
    assert await client.get_company_config(company.id) == CompanyConfig()
    config = CompanyConfig(bank_account_ref=Ref(id="bank-1"), supplier_ref=Ref(id="sup-9"))
    assert await client.put_company_config(company.id, config) == config
    assert await client.get_company_config(company.id) == config
    await client.put_company_config(company.id, CompanyConfig())
    assert await client.get_company_config(company.id) == CompanyConfig()

    with pytest.raises(ValidationFailedError) as refused:
        await client.request(
            "PUT", f"/companies/{company.id}/config", idempotent=True, json={"bankAccountRef": {"id": 12}}
        )
    assert [d.field for d in refused.value.details] == ["bankAccountRef.id"]
