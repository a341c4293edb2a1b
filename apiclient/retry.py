"""The HTTP retry shell both services' clients are built on: one httpx client, bounded retries, typed errors.

A subclass says which answers mean the service never handled the call (retried for every call) and which may come
after it did (retried only for calls safe to repeat), and turns an error answer into its own typed error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Self
from urllib.parse import quote

import httpx

from apiclient import wire
from apiclient.errors import ServiceAPIError, ServiceTransportError

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=10.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter; ``Retry-After`` wins when it is given."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    # A Retry-After longer than this is not waited out: the caller hears RateLimitedError instead.
    max_retry_after: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        if retry_after is not None:
            # A little jitter on top, so clients told the same pause do not return in one burst.
            return retry_after + rng.uniform(0, self.backoff_base)
        return self.backoff(attempt, rng)


_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Our own malformed request: sending it again cannot help.
_NEVER_RETRIED = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)


def path_segment(value: str, what: str = "id") -> str:
    """One path segment, escaped: an id is data, so ``../sandbox/settings`` can never address another
    endpoint, and an empty one would silently address a listing."""
    if not value:
        raise ValueError(f"An empty {what} names no resource")
    return quote(value, safe="")


class RetryingClient(ABC):
    """What both services' clients share: one httpx client, one way to send a call with bounded retries, closing.

    A subclass names its service, the answers that mean the service did not handle the request (so any call
    may go again), the faults after which only a call that is safe to repeat goes again, and how an error
    answer becomes a typed error. Log lines and errors name the method and path, never a header, so no key
    reaches them.
    """

    service: ClassVar[str]
    retried_always: ClassVar[frozenset[int]]

    def __init__(
        self,
        base_url: str,
        authorization: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random()  # noqa: S311 - jitter, not security
        self._log = logging.getLogger(type(self).__module__)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": authorization, "User-Agent": "sync2books-slack/0.1"},
            timeout=timeout,
            transport=transport,
            event_hooks=dict(event_hooks or {}),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    def retried_if_idempotent(self, status: int) -> bool:
        """Faults after which only a call safe to repeat goes again (the service may have handled it)."""

    @abstractmethod
    def error_from(self, response: httpx.Response) -> ServiceAPIError[Any]:
        """The typed error for an error answer, read from the service's own error body."""

    @abstractmethod
    def transport_error(self, text: str) -> ServiceTransportError:
        """The service's own error for a call that got no answer after every retry; ``text`` says which call."""

    # ------------------------------------------------------------------ the one place requests are made

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Any = None,
        json: Any = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """Send one call, retrying what is safe to retry; answer the 2xx response or raise a typed error."""
        content = wire.dumps(json, exclude_none=True) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        url = path.lstrip("/")
        retry, service = self.retry, self.service
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, params=params, content=content, files=files, headers=headers
                )
            except httpx.TransportError as exc:
                retriable = not isinstance(exc, _NEVER_RETRIED) and (isinstance(exc, _NOT_SENT) or idempotent)
                if not retriable or attempt >= retry.max_retries:
                    raise self.transport_error(
                        f"{service} {method} /{url} failed: {type(exc).__name__}"
                        + (f" after {attempt + 1} attempts" if attempt else "")
                    ) from exc
                pause = retry.delay(attempt, None, self._rng)
                self._log.warning(
                    "%s %s /%s: %s; retry %d of %d in %.2fs",
                    service,
                    method,
                    url,
                    type(exc).__name__,
                    attempt + 1,
                    retry.max_retries,
                    pause,
                )
            else:
                if response.is_success:
                    return response
                status = response.status_code
                retriable = status in self.retried_always or (idempotent and self.retried_if_idempotent(status))
                retry_after = retry_after_seconds(response)
                too_long = retry_after is not None and retry_after > retry.max_retry_after
                if not retriable or attempt >= retry.max_retries or too_long:
                    raise self.error_from(response)
                pause = retry.delay(attempt, retry_after, self._rng)
                request_id = response.headers.get("x-request-id")
                self._log.warning(
                    "%s %s /%s answered %d%s; retry %d of %d in %.2fs",
                    service,
                    method,
                    url,
                    status,
                    f" (request {request_id})" if request_id else "",
                    attempt + 1,
                    retry.max_retries,
                    pause,
                )
            attempt += 1
            await self._sleep(pause)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, from either of its forms (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


__all__ = ["DEFAULT_TIMEOUT", "RetryPolicy", "RetryingClient", "path_segment", "retry_after_seconds"]
