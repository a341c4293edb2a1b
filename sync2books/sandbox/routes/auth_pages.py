"""The pages a customer opens from an authorization link: choose the software, then authorize or deny."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import HTMLResponse

from sync2books.models import IntegrationKey
from sync2books.sandbox import pages
from sync2books.sandbox.routes.dependencies import StoreDep
from sync2books.sandbox.store import LinkRefused

router = APIRouter()


class PageResponse(HTMLResponse):
    """An authorization page: never cached, so Back after a click cannot show a live-looking stale form."""

    def __init__(self, content: str, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refusal_status(refused: LinkRefused) -> int:
    return 404 if refused.reason == "unknown" else 410


@router.get("/link/{company_id}", response_class=HTMLResponse)
async def choose_software(store: StoreDep, company_id: str, token: str = "") -> PageResponse:
    try:
        target = await store.check_link(company_id, token)
    except LinkRefused as refused:
        return PageResponse(pages.link_refused_page(refused.reason), status_code=_refusal_status(refused))
    if target.integration_key is not None:
        return PageResponse(pages.link_refused_page("unknown"), status_code=404)
    return PageResponse(pages.choose_software_page(target.company.name, company_id, token))


@router.get("/link/{company_id}/{integration_key}", response_class=HTMLResponse)
async def authorize_form(store: StoreDep, company_id: str, integration_key: str, token: str = "") -> PageResponse:
    try:
        key = IntegrationKey(integration_key)
        target = await store.check_link(company_id, token)
    except ValueError:
        return PageResponse(pages.link_refused_page("unknown"), status_code=404)
    except LinkRefused as refused:
        return PageResponse(pages.link_refused_page(refused.reason), status_code=_refusal_status(refused))
    if target.integration_key not in (None, key):
        return PageResponse(pages.link_refused_page("unknown"), status_code=404)
    return PageResponse(pages.authorize_page(target.company.name, company_id, key, token))


@router.post("/link/{company_id}/{integration_key}/{decision}", response_class=HTMLResponse)
async def decide(
    store: StoreDep, company_id: str, integration_key: str, decision: str, token: Annotated[str, Form()] = ""
) -> PageResponse:
    if decision not in ("authorize", "deny"):
        return PageResponse(pages.link_refused_page("unknown"), status_code=404)
    try:
        key = IntegrationKey(integration_key)
        target = await store.check_link(company_id, token)
        await store.use_link(company_id, token, key, authorize=decision == "authorize")
    except ValueError:
        return PageResponse(pages.link_refused_page("unknown"), status_code=404)
    except LinkRefused as refused:
        return PageResponse(pages.link_refused_page(refused.reason), status_code=_refusal_status(refused))
    if decision == "authorize":
        return PageResponse(pages.authorized_page(target.company.name, key))
    return PageResponse(pages.denied_page(target.company.name, key))
