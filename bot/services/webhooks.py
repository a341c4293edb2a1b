"""Webhooks in: verified, deduplicated, and handed to the same exactly-once path as the scheduled looks.

Sync2Books signs with Standard Webhooks, Codat with Svix (the same scheme under ``svix-*`` headers), and each
is checked with its own library. A forged or stale delivery (timestamp over five minutes off) is refused, and
so is a replay: the same ``webhook-id`` with the same timestamp, which only a copy of a delivery carries (a
sender's retry is signed afresh). A retry of an event already handled is answered 200 and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import standardwebhooks.webhooks as standard
import svix.webhooks
from pydantic import ValidationError

from apiclient import wire
from bot.backend import ExpenseSyncBackend, ExpenseSyncError, WebhookSource
from bot.logs import log_context
from bot.sealing import SEALED, Sealer, SealError
from bot.services.batches import BatchWatcher
from bot.services.pacing import LookPace
from bot.services.watching import ConnectionWatcher
from storage.db import Database
from storage.repositories import SeenDeliveries, WebhookSubscriptions
from storage.tables import WebhookSubscriptionRecord

log = logging.getLogger(__name__)

SYNC2BOOKS = "sync2books"
CODAT = "codat"
WEBHOOK_PATH = "/webhooks/{source}"
CODAT_SYNC_EVENTS = frozenset({"expenses.sync.successful", "expenses.sync.unsuccessful"})


@dataclass(frozen=True)
class Verdict:
    """What to answer the sender: ``status``, and what became of the delivery, for the log and the metrics."""

    status: int
    outcome: str  # accepted, duplicate, ignored, refused, failed
    reason: str = ""


class WebhookSubscriber:
    """Subscribes this bot to Sync2Books' webhooks once, and keeps the signing secret sealed in the store."""

    def __init__(self, db: Database, backend: WebhookSource, sealer: Sealer, url: str) -> None:
        self._db = db
        self._backend = backend
        self._sealer = sealer
        self.url = url
        self._secret: str | None = None

    @property
    def subscribed(self) -> bool:
        return self._secret is not None

    async def ensure(self) -> None:
        """Subscribe unless this URL already is (by this process or another); safe to call again and again."""
        if self._secret is not None:
            return
        async with self._db.session() as session:
            subscriptions = WebhookSubscriptions(session)
            # Processes starting together: one subscribes, the others find its subscription.
            await subscriptions.lock_for_subscribing()
            record = await subscriptions.get(SYNC2BOOKS)
            secret = self._open(record) if record is not None and record.url == self.url else None
            if record is not None and secret is not None:
                if self._sealer.encrypts and not record.secret.startswith(SEALED):
                    # A key was configured since: seal it now.
                    subscriptions.replace_secret(record, self._sealer.seal(secret))
                self._secret = secret
                return
            subscription_id, secret = await self._backend.subscribe_webhooks(self.url)
            replaced = record.subscription_id if record is not None else None
            await subscriptions.save(SYNC2BOOKS, subscription_id, self.url, self._sealer.seal(secret))
        self._secret = secret
        log.info("subscribed to Sync2Books webhooks at %s", self.url)
        if replaced is not None:
            try:
                await self._backend.unsubscribe_webhooks(replaced)
            except ExpenseSyncError as exc:
                log.warning("could not remove the previous webhook subscription (%s)", exc)

    def _open(self, record: WebhookSubscriptionRecord) -> str | None:
        try:
            return self._sealer.open(record.secret)
        except SealError as exc:
            log.error("the webhook secret cannot be read (%s); subscribing again", exc)
            return None

    async def secret(self) -> str | None:
        """The signing secret, read from the store when another process made the subscription."""
        if self._secret is None:
            async with self._db.session() as session:
                record = await WebhookSubscriptions(session).get(SYNC2BOOKS)
            if record is not None and record.url == self.url:
                self._secret = self._open(record)
        return self._secret


Handler = Callable[[dict[str, Any]], Awaitable[bool]]


class WebhookInbox:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        batches: BatchWatcher,
        connections: ConnectionWatcher,
        pace: LookPace,
        secrets: Mapping[str, Callable[[], Awaitable[str | None]]],
        sync2books: WebhookSource | None = None,
    ) -> None:
        self._db = db
        self._sync2books_events = sync2books
        self._backend = backend
        self._batches = batches
        self._connections = connections
        self._pace = pace
        self._secrets = secrets

    @property
    def sources(self) -> list[str]:
        return list(self._secrets)

    async def receive(self, source: str, headers: Mapping[str, str], body: bytes) -> Verdict:
        secret = await self._secrets[source]() if source in self._secrets else None
        if secret is None:
            return Verdict(401, "refused", "no webhook secret for this source")
        lowered = {k.lower(): v for k, v in headers.items()}
        if source == CODAT:
            lowered = {k.replace("svix-", "webhook-"): v for k, v in lowered.items()}
        try:
            if source == CODAT:
                svix.webhooks.Webhook(secret).verify(body, lowered)
            else:
                standard.Webhook(secret).verify(body, lowered, json_parse=False)
        except (standard.WebhookVerificationError, ValueError, UnicodeDecodeError) as exc:
            return Verdict(401, "refused", f"not verified: {exc}")
        digest = hashlib.sha256(lowered["webhook-id"].encode()).hexdigest()
        seen_key, replay_key = f"webhook:{source}:{digest}", f"webhook:{source}:{digest}@{lowered['webhook-timestamp']}"
        async with self._db.session() as session:
            deliveries = SeenDeliveries(session)
            if not await deliveries.first_time(replay_key):
                return Verdict(401, "refused", "replayed: this very delivery was received before")
            if await deliveries.seen(seen_key):
                return Verdict(200, "duplicate")
        self._pace.webhook_arrived()
        try:
            event = wire.loads(body)
            acted = await (self._codat(event) if source == CODAT else self._sync2books(event))
        except (wire.NotJSONError, ValidationError, KeyError, TypeError, AttributeError) as exc:
            log.warning("a verified %s webhook could not be read (%s: %s); ignored", source, type(exc).__name__, exc)
            acted = False
        except ExpenseSyncError as exc:
            # Not marked as seen: the sender's retry gets another chance, and the scheduled looks catch it anyway.
            log.warning("a %s webhook could not be acted on (%s); the sender will retry", source, exc)
            return Verdict(503, "failed", str(exc))
        async with self._db.session() as session:
            await SeenDeliveries(session).first_time(seen_key)
        return Verdict(200, "accepted" if acted else "ignored")

    async def _sync2books(self, body: Any) -> bool:
        assert self._sync2books_events is not None  # its secret is there only with its subscriber
        news = self._sync2books_events.read_webhook(body)
        if news is None:
            return False
        if news.batch is None:
            with log_context(company_id=news.company_id):
                await self._connections.look_at(news.company_id)
        else:
            with log_context(company_id=news.company_id):
                await self._batches.record([news.batch])
        return True

    async def _codat(self, body: Any) -> bool:
        kind = str(body.get("eventType", ""))
        if kind not in CODAT_SYNC_EVENTS:
            log.info("ignored a Codat webhook of type %r", kind[:60])
            return False
        payload = body["payload"]
        batch = await self._backend.sync_batch(str(payload["referenceCompany"]["id"]), str(payload["syncId"]))
        await self._batches.record([batch])
        return True
