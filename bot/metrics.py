"""Prometheus metrics: what operators read at ``GET /metrics``.

One registry per process (each bot process is scraped on its own). Latencies are histograms; the outbox and
watcher gauges are read from the store at scrape time, so they say the truth across processes.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.logs import log_context

REGISTRY = CollectorRegistry(auto_describe=True)
# Slack wants an ack within 3 s: the buckets are dense below it.
ACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter("sync2books_bot_requests", "Requests received, by kind", ["kind", "status"], registry=REGISTRY)
ACK_SECONDS = Histogram(
    "sync2books_bot_ack_seconds",
    "Time to answer a request (Slack's ack)",
    ["kind"],
    buckets=ACK_BUCKETS,
    registry=REGISTRY,
)
OUTBOX_DEPTH = Gauge("sync2books_bot_outbox_depth", "Items waiting to go out", ["outbox"], registry=REGISTRY)
OUTBOX_OLDEST = Gauge(
    "sync2books_bot_outbox_oldest_age_seconds",
    "Age of the oldest item waiting to go out",
    ["outbox"],
    registry=REGISTRY,
)
ANNOUNCEMENTS = Counter(
    "sync2books_bot_announcements", "Announcements to channels, by result", ["result"], registry=REGISTRY
)
SLACK_RATE_LIMITED = Counter(
    "sync2books_bot_slack_rate_limited", "Slack Web API answers of 429 met", ["method"], registry=REGISTRY
)
BACKEND_CALLS = Counter(
    "sync2books_bot_backend_calls",
    "Calls to the expense-sync service",
    ["service", "method", "status"],
    registry=REGISTRY,
)
BACKEND_ERRORS = Counter(
    "sync2books_bot_backend_errors",
    "Calls to the expense-sync service that failed (5xx, 429, or no answer)",
    ["service", "kind"],
    registry=REGISTRY,
)
BACKEND_SECONDS = Histogram(
    "sync2books_bot_backend_call_seconds",
    "Latency of calls to the expense-sync service",
    ["service"],
    buckets=CALL_BUCKETS,
    registry=REGISTRY,
)
WATCHER_LAG = Histogram(
    "sync2books_bot_watcher_lag_seconds",
    "From a batch's end at the service to the bot recording its outcome, by what told it",
    ["source"],
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
LAST_LOOK_AGE = Gauge(
    "sync2books_bot_watcher_last_look_age_seconds",
    "Seconds since a watcher last finished a look",
    ["watcher"],
    registry=REGISTRY,
)
OPEN_BATCHES = Gauge("sync2books_bot_open_batches", "Sync batches the bot still waits on", registry=REGISTRY)
WEBHOOKS = Counter(
    "sync2books_bot_webhooks",
    "Webhook deliveries received, by source and outcome",
    ["source", "outcome"],
    registry=REGISTRY,
)

_last_look: dict[str, float] = {}


def look_finished(watcher: str) -> None:
    _last_look[watcher] = time.monotonic()


def refresh_look_ages() -> None:
    now = time.monotonic()
    for watcher, at in _last_look.items():
        LAST_LOOK_AGE.labels(watcher).set(now - at)


# --------------------------------------------------------------------------- Slack requests


def request_kind(body: bytes, content_type: str) -> tuple[str, str | None]:
    """(kind, workspace) of a Slack request: ``command``, ``block_actions``, ``event:message`` …"""
    try:
        if "json" in content_type:
            data: Any = json.loads(body)
            if data.get("type") == "event_callback":
                return f"event:{data.get('event', {}).get('type', 'unknown')}", data.get("team_id")
            return str(data.get("type", "unknown")), data.get("team_id")
        form = parse_qs(body.decode(errors="replace"))
        if "command" in form:
            return "command", form.get("team_id", [None])[0]
        if "payload" in form:
            payload = json.loads(form["payload"][0])
            return str(payload.get("type", "unknown")), (payload.get("team") or {}).get("id")
    except (ValueError, AttributeError, TypeError):
        pass
    return "unknown", None


class SlackRequestMetrics:
    """ASGI middleware timing each ``POST /slack/events`` from its first byte to its answer, by kind.

    It reads the body only as the app reads it (a copy of the first 64 KiB), so nothing is read twice.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/slack/events" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        seen = bytearray()
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").decode()
        kind = "unknown"

        with log_context(request_id=f"req_{secrets.token_hex(8)}") as fields:

            async def teed() -> Message:
                nonlocal kind
                message = await receive()
                if message["type"] == "http.request":
                    if len(seen) < 65536:
                        seen.extend(message.get("body", b"")[: 65536 - len(seen)])
                    if not message.get("more_body"):
                        kind, workspace = request_kind(bytes(seen), content_type)
                        if workspace:
                            fields["workspace"] = workspace  # the listeners' lines carry it too
                return message

            async def answered(message: Message) -> None:
                if message["type"] == "http.response.start":
                    ACK_SECONDS.labels(kind).observe(time.perf_counter() - began)
                    REQUESTS.labels(kind, str(message["status"])).inc()
                await send(message)

            await self.app(scope, teed, answered)


# --------------------------------------------------------------------------- calls out


class MeasuredTransport(httpx.AsyncBaseTransport):
    """Counts and times every call to the expense-sync service, retries included, whatever answers."""

    def __init__(self, service: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._service = service
        self._inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        began = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            BACKEND_ERRORS.labels(self._service, type(exc).__name__).inc()
            BACKEND_CALLS.labels(self._service, request.method, "none").inc()
            raise
        finally:
            BACKEND_SECONDS.labels(self._service).observe(time.perf_counter() - began)
        status = response.status_code
        BACKEND_CALLS.labels(self._service, request.method, str(status)).inc()
        if status >= 500 or status == 429:
            BACKEND_ERRORS.labels(self._service, str(status)).inc()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class CountedRateLimitRetries(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (wait Retry-After, go again), counting each 429 it meets."""

    async def can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            SLACK_RATE_LIMITED.labels(request.url.rsplit("/", 1)[-1]).inc()
        return await super().can_retry_async(state=state, request=request, response=response, error=error)
