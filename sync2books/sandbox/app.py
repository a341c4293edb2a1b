"""The Sync2Books API v1 served on this machine: the whole contract plus the sandbox's own endpoints.

``Sandbox`` owns the store, the batch worker, the settings and the ASGI app. Run alone, the app's
lifespan starts and stops it; embedded in another server, the host calls ``start`` and ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, Response

from sync2books import wire
from sync2books.models import (
    ACCEPTED_ATTACHMENT_TYPES,
    INTEGRATION_NAMES,
    MAX_ATTACHMENT_BYTES,
    MAX_EXPENSES_PER_REQUEST,
    SYNC2BOOKS_EXPENSE_TYPES,
    AuthUrl,
    BatchStatus,
    Company,
    CompanyConfig,
    CompanyCreate,
    Connection,
    ConnectionErrorInfo,
    ConnectionPatch,
    ConnectionStatus,
    ErrorDetail,
    Expense,
    ExpensesAccepted,
    ExpenseStatus,
    ExpenseType,
    Integration,
    IntegrationKey,
    Page,
    ReferenceKind,
    Results,
    SandboxConnectionStatus,
    SandboxSettings,
    SandboxSettingsUpdate,
    WebhookEventType,
    WebhookSubscription,
    WebhookSubscriptionCreate,
    expense_rule_problems,
    field_path,
    plain_message,
    validation_details,
)
from sync2books.sandbox import pages
from sync2books.sandbox.errors import ApiError, JSONResponse, error_response
from sync2books.sandbox.faults import FaultMiddleware, RateLimiter
from sync2books.sandbox.processor import BatchProcessor
from sync2books.sandbox.sniff import content_matches
from sync2books.sandbox.store import CompanyRow, LinkRefused, SandboxStore, StoreError, partner_of
from sync2books.sandbox.webhooks import WebhookDeliverer

log = logging.getLogger(__name__)
M = TypeVar("M")

# Past this many items a request is refused on its size alone, without judging each item.
MAX_ITEMS_JUDGED = 1000


class Sandbox:
    def __init__(self, db_path: Path | str, *, fault_injection: bool = True) -> None:
        self.settings = SandboxSettings()
        self.store = SandboxStore(db_path)
        self.processor = BatchProcessor(self.store, self.settings)
        self.limiter = RateLimiter(self.settings)
        self.webhooks = WebhookDeliverer(self.store, self.settings)
        self.fault_injection = fault_injection
        self._workers: list[asyncio.Task[None]] = []
        self.app = build_app(self)

    async def start(self) -> None:
        await self.store.open()
        self._workers = [
            asyncio.create_task(self.processor.run(), name="sync2books-sandbox-batches"),
            asyncio.create_task(self.webhooks.run(), name="sync2books-sandbox-webhooks"),
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        await self.store.close()


# --------------------------------------------------------------------------- request helpers


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


PartnerDep = Annotated[str, Depends(_partner)]
PageDep = Annotated[int, Query(ge=1)]
PageSizeDep = Annotated[int, Query(alias="pageSize", ge=1, le=500)]


async def _json_body(request: Request) -> Any:
    try:
        return wire.loads(await request.body())
    except wire.NotJSONError:
        raise ApiError(400, "bad_request", "The request body is not valid JSON") from None


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "The request body must be a JSON object")
    return body


def _validated(model: Callable[[Any], M], data: Any) -> M:
    try:
        return model(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The request is not valid", validation_details(exc)) from None


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


# --------------------------------------------------------------------------- the app


def build_app(sandbox: Sandbox) -> FastAPI:
    store = sandbox.store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    app = FastAPI(
        title="Sync2Books API (sandbox)",
        version="1",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(FaultMiddleware, settings=sandbox.settings, limiter=sandbox.limiter)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def query_error(request: Request, exc: RequestValidationError) -> Response:
        details = [
            ErrorDetail(field=field_path(tuple(error["loc"][1:])), message=plain_message(error["msg"]))
            for error in exc.errors()
        ]
        return error_response(request, 422, "validation_error", "The request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_response(request, 404, "not_found", "No such resource")
        if exc.status_code == 405:
            return error_response(request, 405, "method_not_allowed", "This method is not allowed here")
        return error_response(request, exc.status_code, "bad_request", str(exc.detail))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in the sandbox", exc_info=exc)
        return error_response(request, 500, "internal_error", "The sandbox failed to answer; try again")

    async def company_or_404(partner: str, company_id: str) -> CompanyRow:
        company = await store.get_company(partner, company_id)
        if company is None:
            raise ApiError(404, "not_found", f"No company {company_id}")
        return company

    async def connection_or_404(partner: str, connection_id: str) -> Connection:
        connection = await store.get_connection(partner, connection_id)
        if connection is None:
            raise ApiError(404, "not_found", f"No connection {connection_id}")
        return connection

    def company_model(request: Request, row: CompanyRow, connections: list[Connection]) -> Company:
        return Company(
            id=row.id,
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            auth_url=f"{_base_url(request)}/link/{row.id}?token={row.link_token}",
            connections=connections,
        )

    # ------------------------------------------------------------------ companies

    @app.post("/companies", status_code=201)
    async def create_company(request: Request, partner: PartnerDep) -> Company:
        body = _validated(CompanyCreate.model_validate, await _json_object(request))
        row = await store.create_company(partner, body.name, body.description)
        return company_model(request, row, [])

    @app.get("/companies")
    async def list_companies(
        request: Request, partner: PartnerDep, page: PageDep = 1, page_size: PageSizeDep = 100
    ) -> Page[Company]:
        rows, total = await store.list_companies(partner, page, page_size)
        connections = await store.connections_of([row.id for row in rows])
        results = [company_model(request, row, connections[row.id]) for row in rows]
        return Page[Company](results=results, page=page, page_size=page_size, total=total)

    @app.get("/companies/{company_id}")
    async def get_company(request: Request, partner: PartnerDep, company_id: str) -> Company:
        row = await company_or_404(partner, company_id)
        return company_model(request, row, await store.list_connections(company_id))

    @app.delete("/companies/{company_id}", status_code=204)
    async def delete_company(partner: PartnerDep, company_id: str) -> Response:
        if not await store.delete_company(partner, company_id):
            raise ApiError(404, "not_found", f"No company {company_id}")
        return Response(status_code=204)

    @app.get("/companies/{company_id}/config")
    async def get_config(partner: PartnerDep, company_id: str) -> CompanyConfig:
        config = await store.get_config(partner, company_id)
        if config is None:
            raise ApiError(404, "not_found", f"No company {company_id}")
        return config

    @app.put("/companies/{company_id}/config")
    async def put_config(request: Request, partner: PartnerDep, company_id: str) -> CompanyConfig:
        await company_or_404(partner, company_id)
        config = _validated(CompanyConfig.model_validate, await _json_object(request))
        await store.put_config(partner, company_id, config)
        return config

    # ------------------------------------------------------------------ integrations and links

    @app.get("/integrations")
    async def list_integrations(partner: PartnerDep) -> Results[Integration]:
        return Results[Integration](
            results=[Integration(integration_key=key, name=name) for key, name in INTEGRATION_NAMES.items()]
        )

    @app.get("/companies/{company_id}/integrations/{integration_key}/auth-url")
    async def auth_url(request: Request, partner: PartnerDep, company_id: str, integration_key: str) -> AuthUrl:
        await company_or_404(partner, company_id)
        key = _integration_key(integration_key)
        token, expires_at = await store.create_auth_link(company_id, key)
        return AuthUrl(
            company_id=company_id,
            integration_key=key,
            auth_url=f"{_base_url(request)}/link/{company_id}/{key.value}?token={token}",
            expires_at=expires_at,
        )

    @app.get("/link/{company_id}", response_class=HTMLResponse)
    async def choose_software(company_id: str, token: str = "") -> PageResponse:
        try:
            target = await store.check_link(company_id, token)
        except LinkRefused as refused:
            return PageResponse(pages.link_refused_page(refused.reason), status_code=_refusal_status(refused))
        if target.integration_key is not None:
            return PageResponse(pages.link_refused_page("unknown"), status_code=404)
        return PageResponse(pages.choose_software_page(target.company.name, company_id, token))

    @app.get("/link/{company_id}/{integration_key}", response_class=HTMLResponse)
    async def authorize_form(company_id: str, integration_key: str, token: str = "") -> PageResponse:
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

    @app.post("/link/{company_id}/{integration_key}/{decision}", response_class=HTMLResponse)
    async def decide(
        company_id: str, integration_key: str, decision: str, token: Annotated[str, Form()] = ""
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

    # ------------------------------------------------------------------ connections

    @app.get("/companies/{company_id}/connections")
    async def list_connections(partner: PartnerDep, company_id: str) -> Results[Connection]:
        await company_or_404(partner, company_id)
        return Results[Connection](results=await store.list_connections(company_id))

    @app.get("/companies/{company_id}/connections/{connection_id}")
    async def get_connection(partner: PartnerDep, company_id: str, connection_id: str) -> Connection:
        connection = await connection_or_404(partner, connection_id)
        if connection.company_id != company_id:
            raise ApiError(404, "not_found", f"No connection {connection_id}")
        return connection

    @app.patch("/companies/{company_id}/connections/{connection_id}")
    async def patch_connection(
        request: Request, partner: PartnerDep, company_id: str, connection_id: str
    ) -> Connection:
        connection = await get_connection(partner, company_id, connection_id)
        _validated(ConnectionPatch.model_validate, await _json_object(request))
        return await store.set_connection_status(connection.id, ConnectionStatus.DISCONNECTED)

    # ------------------------------------------------------------------ reference data

    def reference_route(kind: ReferenceKind) -> None:
        async def list_reference(
            partner: PartnerDep,
            connection_id: str,
            page: PageDep = 1,
            page_size: PageSizeDep = 100,
            query: str | None = None,
        ) -> Response:
            await connection_or_404(partner, connection_id)
            results, total = await store.list_reference(connection_id, kind, query, page, page_size)
            return JSONResponse({"results": results, "page": page, "pageSize": page_size, "total": total})

        app.add_api_route(f"/connections/{{connection_id}}/{kind.value}", list_reference, methods=["GET"])

    for kind in ReferenceKind:
        reference_route(kind)

    # ------------------------------------------------------------------ expenses

    @app.post("/expenses/{connection_id}")
    async def post_expenses(request: Request, partner: PartnerDep, connection_id: str) -> Response:
        connection = await connection_or_404(partner, connection_id)
        body = await _json_body(request)
        expenses = _validate_expenses(body, connection.base_currency)
        try:
            outcome = await store.accept_expenses(partner, connection, expenses)
        except StoreError as refused:
            raise ApiError(409, refused.code, refused.message) from None
        if outcome.new_batch_id is not None:
            sandbox.processor.wake()
            answer = ExpensesAccepted(
                sync_batch_id=outcome.new_batch_id, status=ExpenseStatus.QUEUED, expenses=outcome.expenses
            )
            return JSONResponse(answer, status_code=202)
        first = outcome.expenses[0]
        answer = ExpensesAccepted(sync_batch_id=first.sync_batch_id, status=first.status, expenses=outcome.expenses)
        return JSONResponse(answer, status_code=200)

    @app.get("/expenses/{connection_id}/{expense_id}")
    async def get_expense(partner: PartnerDep, connection_id: str, expense_id: str) -> Response:
        connection = await connection_or_404(partner, connection_id)
        record = await store.get_expense(connection, expense_id)
        if record is None:
            raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
        return JSONResponse(record)

    @app.post("/expenses/{connection_id}/{expense_id}/attachments")
    async def upload_attachment(request: Request, partner: PartnerDep, connection_id: str, expense_id: str) -> Response:
        connection = await connection_or_404(partner, connection_id)
        if not await store.expense_exists(connection, expense_id):
            raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
        file_name, content_type, content = await _read_upload(request)
        attachment, created = await store.add_attachment(connection, expense_id, file_name, content_type, content)
        return JSONResponse(attachment, status_code=201 if created else 200)

    @app.get("/expenses/{connection_id}/{expense_id}/attachments")
    async def list_attachments(partner: PartnerDep, connection_id: str, expense_id: str) -> Response:
        connection = await connection_or_404(partner, connection_id)
        if not await store.expense_exists(connection, expense_id):
            raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
        return JSONResponse({"results": await store.list_attachments(connection, expense_id)})

    # ------------------------------------------------------------------ sync batches

    @app.get("/sync-batches/{batch_id}")
    async def get_batch(partner: PartnerDep, batch_id: str) -> Response:
        batch = await store.get_batch(partner, batch_id)
        if batch is None:
            raise ApiError(404, "not_found", f"No sync batch {batch_id}")
        return JSONResponse(batch)

    @app.get("/sync-batches")
    async def list_batches(
        partner: PartnerDep,
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

    # ------------------------------------------------------------------ webhooks

    @app.post("/webhooks", status_code=201)
    async def subscribe(request: Request, partner: PartnerDep) -> WebhookSubscription:
        body = _validated(WebhookSubscriptionCreate.model_validate, await _json_object(request))
        events = list(dict.fromkeys(body.events)) if body.events else list(WebhookEventType)
        row = await store.create_subscription(partner, body.url, events)
        return row.model(with_secret=True)

    @app.get("/webhooks")
    async def list_subscriptions(partner: PartnerDep) -> Response:
        rows = await store.list_subscriptions(partner)
        # Without secrets, not even as null: the secret is shown once, in the answer to POST.
        return JSONResponse({"results": [wire.to_data(row.model(), exclude_none=True) for row in rows]})

    @app.delete("/webhooks/{subscription_id}", status_code=204)
    async def unsubscribe(partner: PartnerDep, subscription_id: str) -> Response:
        if not await store.delete_subscription(partner, subscription_id):
            raise ApiError(404, "not_found", f"No webhook subscription {subscription_id}")
        return Response(status_code=204)

    # ------------------------------------------------------------------ sandbox-only

    if sandbox.fault_injection:

        @app.get("/sandbox/settings")
        async def read_settings(partner: PartnerDep) -> SandboxSettings:
            return sandbox.settings

        @app.put("/sandbox/settings")
        async def write_settings(request: Request, partner: PartnerDep) -> SandboxSettings:
            update = _validated(SandboxSettingsUpdate.model_validate, await _json_object(request))
            changes = update.model_dump(exclude_unset=True)
            cleared = [name for name, value in changes.items() if value is None and name != "rate_limit_per_minute"]
            if cleared:
                details = [
                    ErrorDetail(field=field_path((_camel(name),)), message="must not be null") for name in cleared
                ]
                raise ApiError(422, "validation_error", "The settings are not valid", details)
            for name, value in changes.items():
                setattr(sandbox.settings, name, value)
            sandbox.processor.wake()
            return sandbox.settings

        @app.post("/sandbox/connections/{connection_id}/status")
        async def switch_connection(request: Request, partner: PartnerDep, connection_id: str) -> Connection:
            connection = await connection_or_404(partner, connection_id)
            switch = _validated(SandboxConnectionStatus.model_validate, await _json_object(request))
            error = None
            if switch.status == ConnectionStatus.ERROR:
                error = ConnectionErrorInfo(
                    code="token_expired",
                    message=f"The {connection.platform_name} access token expired; the customer must authorize again",
                )
            return await store.set_connection_status(connection.id, switch.status, error)

    return app


# --------------------------------------------------------------------------- validation


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _integration_key(value: str) -> IntegrationKey:
    try:
        return IntegrationKey(value)
    except ValueError:
        valid = ", ".join(key.value for key in IntegrationKey)
        raise ApiError(
            422,
            "validation_error",
            "Unknown integration",
            [ErrorDetail(field="integrationKey", message=f"must be one of {valid}")],
        ) from None


class PageResponse(HTMLResponse):
    """An authorization page: never cached, so Back after a click cannot show a live-looking stale form."""

    def __init__(self, content: str, status_code: int = 200) -> None:
        super().__init__(content, status_code=status_code, headers={"Cache-Control": "no-store"})


def _refusal_status(refused: LinkRefused) -> int:
    return 404 if refused.reason == "unknown" else 410


_EXPENSE = TypeAdapter(Expense)


def _validate_expenses(body: Any, base_currency: str) -> list[Expense]:
    """Every problem of the request at once; nothing is queued unless every item is valid."""
    if isinstance(body, dict):
        items, indexed = [body], False
    elif isinstance(body, list):
        items, indexed = body, True
    else:
        raise ApiError(400, "bad_request", "The request body must be an expense object or an array of them")
    details: list[ErrorDetail] = []
    if not 1 <= len(items) <= MAX_EXPENSES_PER_REQUEST:
        details.append(
            ErrorDetail(field="body", message=f"must hold 1 to {MAX_EXPENSES_PER_REQUEST} expenses, not {len(items)}")
        )
        if len(items) > MAX_ITEMS_JUDGED:
            raise ApiError(422, "validation_error", "The expenses are not valid", details)
    expenses: list[Expense] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        prefix: tuple[int | str, ...] = (index,) if indexed else ()
        if not isinstance(item, dict):
            details.append(ErrorDetail(field=field_path(prefix), message="must be an expense object"))
            continue
        if "type" in item and item["type"] not in SYNC2BOOKS_EXPENSE_TYPES:
            # The shared model knows Codat's types too; Sync2Books takes only its own two.
            details.append(
                ErrorDetail(field=field_path((*prefix, "type")), message="must be 'Payment' or 'DirectCost'")
            )
            item = {**item, "type": ExpenseType.PAYMENT.value}
        try:
            expense = _EXPENSE.validate_python(item)
        except ValidationError as exc:
            details.extend(validation_details(exc, prefix))
        else:
            expenses.append(expense)
            if expense.id in seen:
                details.append(ErrorDetail(field=field_path((*prefix, "id")), message="appears twice in this request"))
            seen.add(expense.id)
        path_prefix = field_path(prefix) if prefix else ""
        details.extend(expense_rule_problems(item, base_currency, f"{path_prefix}." if path_prefix else ""))
    if details:
        raise ApiError(422, "validation_error", "The expenses are not valid", details)
    return expenses


async def _read_upload(request: Request) -> tuple[str, str, bytes]:
    declared = request.headers.get("content-length")
    # Refuse what is plainly too big before reading it; multipart framing adds a little over the file.
    if declared and declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES + 64 * 1024:
        raise ApiError(413, "payload_too_large", "Attachments may be at most 10 MB")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(400, "bad_request", "Send the file as multipart/form-data with a part named 'file'")
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422,
                "validation_error",
                "The attachment is missing",
                [ErrorDetail(field="file", message="is required: a multipart part named 'file'")],
            )
        content = await upload.read(MAX_ATTACHMENT_BYTES + 1)
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ApiError(413, "payload_too_large", "Attachments may be at most 10 MB")
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type not in ACCEPTED_ATTACHMENT_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                f"Files of type {content_type or 'unknown'} are not accepted; send PDF, JPEG, PNG, GIF, HEIC, "
                "TIFF or WebP",
            )
        if not content_matches(content_type, content):
            raise ApiError(
                415, "unsupported_media_type", f"The file's content is not {content_type}, as its type claims"
            )
        return upload.filename or "receipt", content_type, content
    finally:
        await form.close()
