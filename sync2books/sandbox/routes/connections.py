"""A company's connections to its accounting software."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sync2books.models import Connection, ConnectionPatch, ConnectionStatus, Results
from sync2books.sandbox.errors import ApiError
from sync2books.sandbox.routes.dependencies import (
    PartnerDep,
    StoreDep,
    company_or_404,
    connection_or_404,
    json_object,
    validated,
)

router = APIRouter()


@router.get("/companies/{company_id}/connections")
async def list_connections(partner: PartnerDep, store: StoreDep, company_id: str) -> Results[Connection]:
    await company_or_404(store, partner, company_id)
    return Results[Connection](results=await store.list_connections(company_id))


@router.get("/companies/{company_id}/connections/{connection_id}")
async def get_connection(partner: PartnerDep, store: StoreDep, company_id: str, connection_id: str) -> Connection:
    connection = await connection_or_404(store, partner, connection_id)
    if connection.company_id != company_id:
        raise ApiError(404, "not_found", f"No connection {connection_id}")
    return connection


@router.patch("/companies/{company_id}/connections/{connection_id}")
async def patch_connection(
    request: Request, partner: PartnerDep, store: StoreDep, company_id: str, connection_id: str
) -> Connection:
    connection = await get_connection(partner, store, company_id, connection_id)
    validated(ConnectionPatch.model_validate, await json_object(request))
    return await store.set_connection_status(connection.id, ConnectionStatus.DISCONNECTED)
