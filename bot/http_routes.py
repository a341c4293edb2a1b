"""The bot's HTTP routes besides Slack's: webhooks in from the expense-sync services, metrics and readiness."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot import metrics
from bot.logs import log_context
from bot.services.operations import Operations
from bot.services.webhooks import WebhookInbox

log = logging.getLogger(__name__)

# A sync batch of 50 expenses with every error spelled out is a few tens of kilobytes.
MAX_WEBHOOK_BYTES = 1024 * 1024


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is plainly over ``limit`` bytes: never read whole into memory first."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def add_webhook_routes(app: FastAPI, inbox: WebhookInbox) -> None:
    for source in inbox.sources:
        add_webhook_route(app, inbox, source)


def add_webhook_route(app: FastAPI, inbox: WebhookInbox, source: str) -> None:
    async def receive(request: Request) -> JSONResponse:
        body = await bounded_body(request, MAX_WEBHOOK_BYTES)
        if body is None:
            return JSONResponse({"error": "payload_too_large"}, status_code=413)
        with log_context(request_id=request.headers.get("webhook-id") or request.headers.get("svix-id")):
            verdict = await inbox.receive(source, request.headers, body)
        metrics.WEBHOOKS.labels(source, verdict.outcome).inc()
        if verdict.status >= 400:
            log.warning("%s webhook answered %d: %s", source, verdict.status, verdict.reason)
            return JSONResponse({"error": verdict.outcome, "message": verdict.reason}, status_code=verdict.status)
        return JSONResponse({"ok": True, "outcome": verdict.outcome})

    app.add_api_route(f"/webhooks/{source}", receive, methods=["POST"], name=f"webhooks_{source}")


def add_operations_routes(app: FastAPI, operations: Operations) -> None:
    @app.get("/metrics")
    async def scrape() -> Response:
        try:
            await operations.refresh_gauges()
        except Exception as exc:  # the store's trouble must not hide every other metric
            log.warning("could not read the outbox gauges (%s)", type(exc).__name__)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        parts = await operations.readiness()
        ready = all(state == "ok" for state in parts.values())
        return JSONResponse({"ready": ready, **parts}, status_code=200 if ready else 503)
