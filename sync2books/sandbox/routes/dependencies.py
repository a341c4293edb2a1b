"""What every route reads from a request: the partner behind the API key, paging, a JSON body, the sandbox's parts.

The store, settings and batch processor are the ``Sandbox``'s, put on ``app.state`` by ``build_app``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from pydantic import ValidationError

from sync2books import wire
from sync2books.models import Connection, SandboxSettings, validation_details
from sync2books.sandbox.errors import ApiError
from sync2books.sandbox.processor import BatchProcessor
from sync2books.sandbox.store import CompanyRow, SandboxStore, partner_of

M = TypeVar("M")


def _partner(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, "unauthorized", "Missing API key: send 'Authorization: Bearer sk_test_…'")
    if key.startswith("sk_live_"):
        raise ApiError(401, "unauthorized", "The sandbox takes test keys (sk_test_…); live keys are refused here")
    if not key.startswith("sk_test_") or len(key) <= len("sk_test_"):
        raise ApiError(401, "unauthorized", "Unknown API key")
    return partner_of(key)


def _store(request: Request) -> SandboxStore:
    store: SandboxStore = request.app.state.store
    return store


def _settings(request: Request) -> SandboxSettings:
    settings: SandboxSettings = request.app.state.settings
    return settings


def _processor(request: Request) -> BatchProcessor:
    processor: BatchProcessor = request.app.state.processor
    return processor


PartnerDep = Annotated[str, Depends(_partner)]
StoreDep = Annotated[SandboxStore, Depends(_store)]
SettingsDep = Annotated[SandboxSettings, Depends(_settings)]
ProcessorDep = Annotated[BatchProcessor, Depends(_processor)]
PageDep = Annotated[int, Query(ge=1)]
PageSizeDep = Annotated[int, Query(alias="pageSize", ge=1, le=500)]


async def json_body(request: Request) -> Any:
    try:
        return wire.loads(await request.body())
    except wire.NotJSONError:
        raise ApiError(400, "bad_request", "The request body is not valid JSON") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object")
    return body


def validated(model: Callable[[Any], M], data: Any) -> M:
    try:
        return model(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The request is not valid", validation_details(exc)) from None


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def company_or_404(store: SandboxStore, partner: str, company_id: str) -> CompanyRow:
    company = await store.get_company(partner, company_id)
    if company is None:
        raise ApiError(404, "not_found", f"No company {company_id}")
    return company


async def connection_or_404(store: SandboxStore, partner: str, connection_id: str) -> Connection:
    connection = await store.get_connection(partner, connection_id)
    if connection is None:
        raise ApiError(404, "not_found", f"No connection {connection_id}")
    return connection
