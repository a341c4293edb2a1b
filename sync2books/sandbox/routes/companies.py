"""Companies and their configuration."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from sync2books.models import Company, CompanyConfig, CompanyCreate, Connection, Page
from sync2books.sandbox.errors import ApiError
from sync2books.sandbox.routes.dependencies import (
    PageDep,
    PageSizeDep,
    PartnerDep,
    StoreDep,
    base_url,
    company_or_404,
    json_object,
    validated,
)
from sync2books.sandbox.store import CompanyRow

router = APIRouter()


def company_model(request: Request, row: CompanyRow, connections: list[Connection]) -> Company:
    return Company(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        auth_url=f"{base_url(request)}/link/{row.id}?token={row.link_token}",
        connections=connections,
    )


@router.post("/companies", status_code=201)
async def create_company(request: Request, partner: PartnerDep, store: StoreDep) -> Company:
    body = validated(CompanyCreate.model_validate, await json_object(request))
    row = await store.create_company(partner, body.name, body.description)
    return company_model(request, row, [])


@router.get("/companies")
async def list_companies(
    request: Request, partner: PartnerDep, store: StoreDep, page: PageDep = 1, page_size: PageSizeDep = 100
) -> Page[Company]:
    rows, total = await store.list_companies(partner, page, page_size)
    connections = await store.connections_of([row.id for row in rows])
    results = [company_model(request, row, connections[row.id]) for row in rows]
    return Page[Company](results=results, page=page, page_size=page_size, total=total)


@router.get("/companies/{company_id}")
async def get_company(request: Request, partner: PartnerDep, store: StoreDep, company_id: str) -> Company:
    row = await company_or_404(store, partner, company_id)
    return company_model(request, row, await store.list_connections(company_id))


@router.delete("/companies/{company_id}", status_code=204)
async def delete_company(partner: PartnerDep, store: StoreDep, company_id: str) -> Response:
    if not await store.delete_company(partner, company_id):
        raise ApiError(404, "not_found", f"No company {company_id}")
    return Response(status_code=204)


@router.get("/companies/{company_id}/config")
async def get_config(partner: PartnerDep, store: StoreDep, company_id: str) -> CompanyConfig:
    config = await store.get_config(partner, company_id)
    if config is None:
        raise ApiError(404, "not_found", f"No company {company_id}")
    return config


@router.put("/companies/{company_id}/config")
async def put_config(request: Request, partner: PartnerDep, store: StoreDep, company_id: str) -> CompanyConfig:
    await company_or_404(store, partner, company_id)
    config = validated(CompanyConfig.model_validate, await json_object(request))
    await store.put_config(partner, company_id, config)
    return config
