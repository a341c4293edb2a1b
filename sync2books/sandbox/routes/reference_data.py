"""A connection's reference data (accounts, tax rates, suppliers, …): one listing route a kind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from starlette.responses import Response

from sync2books.models import ReferenceKind
from sync2books.sandbox.errors import JSONResponse
from sync2books.sandbox.routes.dependencies import PageDep, PageSizeDep, PartnerDep, StoreDep, connection_or_404

router = APIRouter()


def _listing_of(kind: ReferenceKind) -> Callable[..., Awaitable[Response]]:
    async def list_reference(
        partner: PartnerDep,
        store: StoreDep,
        connection_id: str,
        page: PageDep = 1,
        page_size: PageSizeDep = 100,
        query: str | None = None,
    ) -> Response:
        await connection_or_404(store, partner, connection_id)
        results, total = await store.list_reference(connection_id, kind, query, page, page_size)
        return JSONResponse({"results": results, "page": page, "pageSize": page_size, "total": total})

    return list_reference


for kind in ReferenceKind:
    router.add_api_route(f"/connections/{{connection_id}}/{kind.value}", _listing_of(kind), methods=["GET"])
