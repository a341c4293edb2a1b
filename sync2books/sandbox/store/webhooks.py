"""Webhook subscriptions, the deliveries a change owes them, and each delivery's attempts."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from sync2books import wire
from sync2books.models import WebhookEventType, WebhookSubscription
from sync2books.sandbox.store.base import StoreBase, format_ts, parse_required_ts, parse_ts


@dataclass(frozen=True)
class SubscriptionRow:
    id: str
    url: str
    events: list[WebhookEventType]
    secret: str
    created_at: datetime

    def model(self, *, with_secret: bool = False) -> WebhookSubscription:
        return WebhookSubscription(
            id=self.id,
            url=self.url,
            events=self.events,
            created_at=self.created_at,
            secret=self.secret if with_secret else None,
        )


@dataclass(frozen=True)
class DueDelivery:
    """One delivery of one event to one subscription, due now; ``attempts`` made so far."""

    seq: int
    event_id: str
    url: str
    secret: str
    body: str
    attempts: int


class WebhookStore(StoreBase):
    async def create_subscription(self, partner: str, url: str, events: Sequence[WebhookEventType]) -> SubscriptionRow:
        row = SubscriptionRow(
            id=str(uuid.uuid4()),
            url=url,
            events=list(events),
            secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            created_at=datetime.now(UTC),
        )
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO webhook_subscriptions (id, partner, url, events, secret, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    partner,
                    url,
                    wire.dumps([e.value for e in events]).decode(),
                    row.secret,
                    format_ts(row.created_at),
                ),
            )
        return row

    @staticmethod
    def _subscription(row: aiosqlite.Row) -> SubscriptionRow:
        return SubscriptionRow(
            id=row["id"],
            url=row["url"],
            events=[WebhookEventType(e) for e in wire.loads(row["events"])],
            secret=row["secret"],
            created_at=parse_required_ts(row["created_at"]),
        )

    async def list_subscriptions(self, partner: str) -> list[SubscriptionRow]:
        async with self._reading() as db:
            rows = await self._all(
                db, "SELECT * FROM webhook_subscriptions WHERE partner = ? ORDER BY created_at, id", (partner,)
            )
        return [self._subscription(row) for row in rows]

    async def delete_subscription(self, partner: str, subscription_id: str) -> bool:
        """Forget the subscription and whatever it had still to deliver."""
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM webhook_subscriptions WHERE id = ? AND partner = ?", (subscription_id, partner)
            )
            return cursor.rowcount == 1

    async def _owe_event(
        self, db: aiosqlite.Connection, partner: str, event_type: WebhookEventType, data: Any, at: datetime
    ) -> None:
        """Record one delivery per subscription that wants the event, in the transaction of the change itself.

        So a change and the news of it are committed together: a crash after the commit still delivers it.
        """
        rows = await self._all(db, "SELECT id, events FROM webhook_subscriptions WHERE partner = ?", (partner,))
        wanted = [row["id"] for row in rows if event_type.value in wire.loads(row["events"])]
        if not wanted:
            return
        event_id = f"msg_{uuid.uuid4().hex}"
        body = wire.dumps({"type": event_type.value, "timestamp": at, "data": data}).decode()
        now = format_ts(datetime.now(UTC))
        await db.executemany(
            "INSERT INTO webhook_deliveries (event_id, subscription_id, event_type, body, state, next_attempt_at,"
            " created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            [(event_id, subscription_id, event_type.value, body, now, now) for subscription_id in wanted],
        )
        self.event_owed()

    async def due_deliveries(self, limit: int, busy: set[int]) -> list[DueDelivery]:
        """Pending deliveries whose time has come, oldest first, leaving out those already on their way."""
        now = format_ts(datetime.now(UTC))
        async with self._reading() as db:
            rows = await self._all(
                db,
                "SELECT d.seq, d.event_id, d.body, d.attempts, s.url, s.secret FROM webhook_deliveries d"
                " JOIN webhook_subscriptions s ON s.id = d.subscription_id"
                " WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.seq LIMIT ?",
                (now, limit + len(busy)),
            )
        due = [
            DueDelivery(row["seq"], row["event_id"], row["url"], row["secret"], row["body"], row["attempts"])
            for row in rows
            if row["seq"] not in busy
        ]
        return due[:limit]

    async def next_delivery_at(self) -> datetime | None:
        async with self._reading() as db:
            row = await self._one(db, "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'")
        return parse_ts(row[0]) if row and row[0] else None

    async def delivery_attempted(self, seq: int, *, error: str | None, retry_at: datetime | None) -> None:
        """Record one attempt: delivered (no error), due again at ``retry_at``, or given up (neither)."""
        async with self._transaction() as db:
            now = format_ts(datetime.now(UTC))
            if error is None:
                await db.execute(
                    "UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, delivered_at = ?,"
                    " last_error = NULL WHERE seq = ?",
                    (now, seq),
                )
            else:
                await db.execute(
                    "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_error = ?,"
                    " next_attempt_at = ? WHERE seq = ?",
                    ("pending" if retry_at else "failed", error[:500], format_ts(retry_at or datetime.now(UTC)), seq),
                )

    async def delivery_states(self) -> dict[str, int]:
        """How many deliveries are in each state: for tests and benchmarks."""
        async with self._reading() as db:
            rows = await self._all(db, "SELECT state, count(*) FROM webhook_deliveries GROUP BY state")
        return {row[0]: int(row[1]) for row in rows}
