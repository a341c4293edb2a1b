"""The Sync2Books API v1 served on this machine: the whole contract plus the sandbox's own endpoints.

``Sandbox`` owns the store, the batch worker, the settings and the ASGI app. Run alone, the app's
lifespan starts and stops it; embedded in another server, the host calls ``start`` and ``stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sync2books.models import ErrorDetail, SandboxSettings, field_path, plain_message
from sync2books.sandbox.errors import ApiError, JSONResponse, error_response
from sync2books.sandbox.faults import FaultMiddleware, RateLimiter
from sync2books.sandbox.processor import BatchProcessor
from sync2books.sandbox.routes import (
    attachments,
    auth_pages,
    companies,
    connections,
    expenses,
    fault_injection,
    integrations,
    reference_data,
    subscriptions,
    sync_batches,
)
from sync2books.sandbox.store import SandboxStore
from sync2books.sandbox.webhooks import WebhookDeliverer

log = logging.getLogger(__name__)

# In the order the contract lists them, which is the order of the OpenAPI document's paths.
CONTRACT_ROUTERS = (
    companies.router,
    integrations.router,
    auth_pages.router,
    connections.router,
    reference_data.router,
    expenses.router,
    attachments.router,
    sync_batches.router,
    subscriptions.router,
)


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

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        """Run alone, the app starts and stops the sandbox itself."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()


def build_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(
        title="Sync2Books API (sandbox)",
        version="1",
        lifespan=sandbox.lifespan,
        default_response_class=JSONResponse,
        docs_url=None,
        redoc_url=None,
        exception_handlers={
            ApiError: api_error,
            RequestValidationError: query_error,
            StarletteHTTPException: http_error,
            Exception: internal_error,
        },
    )
    # What the routes' dependencies hand them (routes/dependencies.py).
    app.state.store = sandbox.store
    app.state.settings = sandbox.settings
    app.state.processor = sandbox.processor
    app.add_middleware(FaultMiddleware, settings=sandbox.settings, limiter=sandbox.limiter)
    for router in CONTRACT_ROUTERS:
        app.include_router(router)
    if sandbox.fault_injection:
        app.include_router(fault_injection.router)
    return app


# --------------------------------------------------------------------------- error answers


async def api_error(request: Request, exc: ApiError) -> Response:
    return error_response(request, exc.status, exc.code, exc.message, exc.details)


async def query_error(request: Request, exc: RequestValidationError) -> Response:
    details = [
        ErrorDetail(field=field_path(tuple(error["loc"][1:])), message=plain_message(error["msg"]))
        for error in exc.errors()
    ]
    return error_response(request, 422, "validation_error", "The request is not valid", details)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 404:
        return error_response(request, 404, "not_found", "No such resource")
    if exc.status_code == 405:
        return error_response(request, 405, "method_not_allowed", "This method is not allowed here")
    return error_response(request, exc.status_code, "bad_request", str(exc.detail))


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in the sandbox", exc_info=exc)
    return error_response(request, 500, "internal_error", "The sandbox failed to answer; try again")
