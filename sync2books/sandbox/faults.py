"""Fault injection and the per-key rate limit: latency, injected 503s, 429 with Retry-After.

Faults apply to API answers only; the sandbox's own endpoints and the authorization pages are never
delayed, failed or limited, so a test can always turn the faults off again.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from sync2books.models import SandboxSettings
from sync2books.sandbox.errors import error_response
from sync2books.sandbox.store import partner_of

# Without a configured limit the sandbox still limits, generously, so every answer carries real headers.
DEFAULT_RATE_LIMIT_PER_MINUTE = 600_000
UNFAULTED_PREFIXES = ("/sandbox/", "/link/")


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per partner that refills at the per-minute rate and holds one second of burst.

    One second of burst (not a whole minute) keeps a limited sandbox answering steadily, so tests and
    benchmarks meet 429s within seconds rather than after a minute of free requests.
    """

    settings: SandboxSettings
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def limit(self) -> int:
        return self.settings.rate_limit_per_minute or DEFAULT_RATE_LIMIT_PER_MINUTE

    def take(self, partner: str | None, *, spend: bool = True) -> tuple[bool, dict[str, str]]:
        """Spend one request of the partner's budget: (allowed, the X-RateLimit-* and Retry-After headers).

        With ``spend`` False (or no partner) it only reports the budget, for answers that are not limited.
        """
        rate = self.limit / 60
        capacity = max(1.0, rate)
        now = self.clock()
        bucket = self._buckets.setdefault(partner, _Bucket(capacity, now)) if partner else _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        allowed = bucket.tokens >= 1 or not spend
        if spend and allowed:
            bucket.tokens -= 1
        full_in = (capacity - bucket.tokens) / rate
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(int(bucket.tokens)),
            "X-RateLimit-Reset": str(math.ceil(time.time() + full_in)),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, math.ceil((1 - bucket.tokens) / rate)))
        return allowed, headers


def _test_key_partner(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.startswith("sk_test_"):
        return None
    return partner_of(key.strip())


def _path_within_sandbox(request: Request) -> str:
    """The path below the sandbox's base: mounted under a prefix (the bot's ``/sync2books``), the request's
    path still carries that prefix, which would hide the sandbox's own pages from the exemption."""
    path, root = request.url.path, request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class FaultMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: ASGIApp, settings: SandboxSettings, limiter: RateLimiter) -> None:
        super().__init__(app)
        self.settings = settings
        self.limiter = limiter
        self.random = random.Random()  # noqa: S311 - fault injection, not security

    async def dispatch(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = f"req_{secrets.token_hex(12)}"
        request.state.request_id = request_id
        faulted = not _path_within_sandbox(request).startswith(UNFAULTED_PREFIXES)
        partner = _test_key_partner(request)
        if faulted and self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)
        allowed, limit_headers = self.limiter.take(partner, spend=faulted)
        if not allowed:
            response = error_response(request, 429, "rate_limited", "Too many requests; retry after the pause")
            return _finish(response, request_id, limit_headers)
        response = await call_next(request)
        if faulted and self.settings.error_rate and self.random.random() < self.settings.error_rate:
            # The request was handled and only its answer is lost: the hardest case for a client to get right.
            response = error_response(request, 503, "unavailable", "The sandbox injected a fault (errorRate)")
        return _finish(response, request_id, limit_headers)


def _finish(response: Response, request_id: str, headers: dict[str, str]) -> Response:
    response.headers["X-Request-Id"] = request_id
    response.headers.update(headers)
    return response
