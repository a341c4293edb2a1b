"""Companies, integrations and key isolation, through the client against the sandbox over HTTP."""

from __future__ import annotations

import httpx
import pytest

from sync2books.errors import NotFoundError, UnauthorizedError, ValidationFailedError
from sync2books.models import Company, IntegrationKey
from tests.support.sandbox import OTHER_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient


async def test_create_get_list_and_delete_a_company(client: SandboxClient) -> None:
    created = await client.create_company("  Acme Ltd  ", "Widgets")
    assert created.name == "Acme Ltd"
    assert created.description == "Widgets"
    assert created.connections == []
    assert created.auth_url.startswith("http://127.0.0.1:") and f"/link/{created.id}?token=" in created.auth_url

    fetched = await client.get_company(created.id)
    assert (fetched.id, fetched.name, fetched.created_at) == (created.id, "Acme Ltd", created.created_at)

    await client.create_company("Beta LLC")
    page = await client.list_companies(page=1, page_size=1)
    assert (page.total, page.page, page.page_size, [c.name for c in page.results]) == (2, 1, 1, ["Acme Ltd"])
    assert [c.name async for c in client.iter_companies()] == ["Acme Ltd", "Beta LLC"]

    await client.delete_company(created.id)
    with pytest.raises(NotFoundError) as missing:
        await client.get_company(created.id)
    assert missing.value.status == 404 and missing.value.code == "not_found"
    assert missing.value.request_id and missing.value.request_id.startswith("req_")


async def test_deleting_a_company_disconnects_its_connections_first(client: SandboxClient) -> None:
    company = await client.create_company("Gone Ltd")
    await connect(client, company, IntegrationKey.SAGE)
    await client.delete_company(company.id)
    with pytest.raises(NotFoundError):
        await client.list_connections(company.id)


async def test_pagination_walks_every_company_once(client: SandboxClient) -> None:
    names = [f"Company {n:03d}" for n in range(7)]
    for name in names:
        await client.create_company(name)
    seen = [c.name async for c in client.iter_pages("/companies", Company, page_size=3)]
    assert seen == names


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "   "}, "name", "must be 1 to 100 characters"),
        ({"name": "x" * 101}, "name", "must be 1 to 100 characters"),
        ({"name": 5}, "name", "must be a string"),
        ({}, "name", "is required"),
        ({"name": "Ok", "description": 7}, "description", "must be a valid string"),
    ],
)
async def test_an_invalid_company_is_refused_with_every_problem(
    client: SandboxClient, body: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        await client.request("POST", "/companies", idempotent=False, json=body)
    assert refused.value.status == 422
    assert [(d.field, d.message[: len(message)]) for d in refused.value.details] == [(field, message)]
    assert (await client.list_companies()).total == 0


async def test_a_company_is_invisible_to_every_other_key(sandbox: SandboxServer, client: SandboxClient) -> None:
    company = await client.create_company("Private Co")
    async with sandbox.client(OTHER_KEY) as other:
        with pytest.raises(NotFoundError):
            await other.get_company(company.id)
        with pytest.raises(NotFoundError):
            await other.list_connections(company.id)
        with pytest.raises(NotFoundError):
            await other.get_auth_url(company.id, IntegrationKey.XERO)
        assert (await other.list_companies()).total == 0


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("sk_live_51HqLyjWDarjtT1zdp7dc", "The sandbox takes test keys"),
        ("pk_test_nonsense", "Unknown API key"),
    ],
)
async def test_keys_the_sandbox_refuses(sandbox: SandboxServer, key: str, message: str) -> None:
    async with sandbox.client(key) as refused_client:
        with pytest.raises(UnauthorizedError) as refused:
            await refused_client.list_companies()
    assert refused.value.status == 401 and refused.value.code == "unauthorized"
    assert refused.value.message.startswith(message)
    assert key not in str(refused.value)


async def test_a_request_without_a_key_is_refused(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as anonymous:
        answer = await anonymous.get("/companies")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.json()["error"]["message"].startswith("Missing API key")
    assert answer.json()["error"]["requestId"] == answer.headers["x-request-id"]


def test_the_client_wants_a_key() -> None:
    with pytest.raises(ValueError, match="API key is required"):
        SandboxClient("http://127.0.0.1:9", "  ")


async def test_integrations_and_their_authorization_urls(client: SandboxClient) -> None:
    integrations = await client.list_integrations()
    assert {(i.integration_key, i.name) for i in integrations} == {
        (IntegrationKey.QUICKBOOKS, "QuickBooks Online"),
        (IntegrationKey.QUICKBOOKS_DESKTOP, "QuickBooks Desktop"),
        (IntegrationKey.XERO, "Xero"),
        (IntegrationKey.SAGE, "Sage"),
    }
    company = await client.create_company("Acme Ltd")
    link = await client.get_auth_url(company.id, IntegrationKey.QUICKBOOKS)
    assert link.company_id == company.id and link.integration_key == IntegrationKey.QUICKBOOKS
    assert f"/link/{company.id}/QUICKBOOKS?token=" in link.auth_url
    assert 29 * 60 < (link.expires_at - company.created_at).total_seconds() < 31 * 60

    with pytest.raises(ValidationFailedError) as unknown:
        await client.get_auth_url(company.id, "FRESHBOOKS")
    assert unknown.value.details[0].field == "integrationKey"
    assert "QUICKBOOKS" in unknown.value.details[0].message
