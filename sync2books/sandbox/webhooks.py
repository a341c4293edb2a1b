"""Webhook deliveries as the contract says: Standard Webhooks signatures, retries on the contract's schedule.

Every delivery was recorded in the same transaction as the change it reports (see ``SandboxStore._owe_event``),
so this worker only has to work through the pending ones; a restart finds them where they were. Each attempt
is signed afresh with its own timestamp (as Svix does), keeping the same ``webhook-id`` on every retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from sync2books.models import WEBHOOK_RETRY_SECONDS, WEBHOOK_TIMEOUT_SECONDS, SandboxSettings
from sync2books.sandbox.store import DueDelivery, SandboxStore

log = logging.getLogger(__name__)

# Deliveries on their way at once: enough that a slow receiver does not hold up the others.
CONCURRENT_DELIVERIES = 64
IDLE_WAIT_SECONDS = 0.5


def retry_delay(attempts: int, scale: float) -> timedelta | None:
    """How long after the ``attempts``-th failed attempt the next one goes; None once the schedule is spent."""
    if attempts > len(WEBHOOK_RETRY_SECONDS):
        return None
    return timedelta(seconds=WEBHOOK_RETRY_SECONDS[attempts - 1] * scale)


class WebhookDeliverer:
    def __init__(
        self, store: SandboxStore, settings: SandboxSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._transport = transport
        self._wake = asyncio.Event()
        self._busy: dict[int, asyncio.Task[None]] = {}
        self._gate = asyncio.Semaphore(CONCURRENT_DELIVERIES)
        self._random = random.Random()  # noqa: S311 - fault injection, not security
        store.event_owed = self.wake

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(WEBHOOK_TIMEOUT_SECONDS), transport=self._transport, follow_redirects=False
        ) as http:
            try:
                while True:
                    try:
                        await self._step(http)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("webhook delivery failed; trying again shortly")
                        await asyncio.sleep(IDLE_WAIT_SECONDS)
            finally:
                # Stopped: what was on its way stays pending in the store and goes again after a restart.
                for task in list(self._busy.values()):
                    task.cancel()
                if self._busy:
                    await asyncio.wait(list(self._busy.values()))

    async def _step(self, http: httpx.AsyncClient) -> None:
        self._wake.clear()
        room = CONCURRENT_DELIVERIES - len(self._busy)
        due = await self._store.due_deliveries(room, set(self._busy)) if room > 0 else []
        for delivery in due:
            task = asyncio.create_task(self._deliver(http, delivery), name=f"webhook-{delivery.seq}")
            self._busy[delivery.seq] = task
            task.add_done_callback(functools.partial(self._finished, delivery.seq))
        if len(due) == room and room > 0:
            return  # more may be due: look again at once
        await self._idle(await self._wait_seconds())

    def _finished(self, seq: int, _: asyncio.Task[None]) -> None:
        self._busy.pop(seq, None)
        self._wake.set()

    async def _wait_seconds(self) -> float:
        next_at = await self._store.next_delivery_at()
        if next_at is None:
            return IDLE_WAIT_SECONDS
        return max(0.0, min(IDLE_WAIT_SECONDS, (next_at - datetime.now(UTC)).total_seconds()))

    async def _idle(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _deliver(self, http: httpx.AsyncClient, delivery: DueDelivery) -> None:
        async with self._gate:
            if self._settings.webhook_delay_ms:
                await asyncio.sleep(self._settings.webhook_delay_ms / 1000)
            error = await self._attempt(http, delivery)
        attempts = delivery.attempts + 1
        retry_at = None
        if error is not None:
            delay = retry_delay(attempts, self._settings.webhook_retry_scale)
            retry_at = datetime.now(UTC) + delay if delay is not None else None
            if retry_at is None:
                log.warning(
                    "webhook %s to %s given up after %d attempts: %s", delivery.event_id, delivery.url, attempts, error
                )
        await self._store.delivery_attempted(delivery.seq, error=error, retry_at=retry_at)

    async def _attempt(self, http: httpx.AsyncClient, delivery: DueDelivery) -> str | None:
        """One POST; answers None when it was delivered, else why it was not."""
        if self._settings.webhook_failure_rate and self._random.random() < self._settings.webhook_failure_rate:
            return "dropped by webhookFailureRate"
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": "Sync2Books-Webhooks/1 (sandbox)",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(delivery.secret).sign(delivery.event_id, now, delivery.body),
        }
        try:
            response = await http.post(delivery.url, content=delivery.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}"
        if response.is_success:
            return None
        return f"answered {response.status_code}"
