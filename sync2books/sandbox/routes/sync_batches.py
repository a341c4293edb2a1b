"""The sync batches expenses are queued in, one by id or listed by what changed since."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from sync2books.models import BatchStatus, ErrorDetail
from sync2books.sandbox.errors import ApiError, JSONResponse
from sync2books.sandbox.routes.dependencies import PageDep, PageSizeDep, PartnerDep, StoreDep

router = APIRouter()


@router.get("/sync-batches/{batch_id}")
async def get_batch(partner: PartnerDep, store: StoreDep, batch_id: str) -> Response:
    batch = await store.get_batch(partner, batch_id)
    if batch is None:
        raise ApiError(404, "not_found", f"No sync batch {batch_id}")
    return JSONResponse(batch)


@router.get("/sync-batches")
async def list_batches(
    partner: PartnerDep,
    store: StoreDep,
    company_id: Annotated[str | None, Query(alias="companyId")] = None,
    connection_id: Annotated[str | None, Query(alias="connectionId")] = None,
    status: Annotated[list[BatchStatus] | None, Query()] = None,
    updated_since: Annotated[datetime | None, Query(alias="updatedSince")] = None,
    page: PageDep = 1,
    page_size: PageSizeDep = 100,
) -> Response:
    if updated_since is not None and updated_since.tzinfo is None:
        raise ApiError(
            422,
            "validation_error",
            "The request is not valid",
            [
                ErrorDetail(
                    field="updatedSince",
                    message="must be an ISO 8601 timestamp with a time zone, like …Z",
                )
            ],
        )
    batches, total = await store.list_batches(
        partner,
        company_id=company_id,
        connection_id=connection_id,
        statuses=status or [],
        updated_since=updated_since,
        page=page,
        page_size=page_size,
    )
    return JSONResponse({"results": batches, "page": page, "pageSize": page_size, "total": total})
