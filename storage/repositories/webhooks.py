"""The bot's subscriptions to a backend's webhooks, made once across every process on the database."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repositories._sql import is_postgres
from storage.tables import WebhookSubscriptionRecord, utcnow

# Any constant will do, as long as every process of this app uses it (see storage.db for the other one).
SUBSCRIBE_LOCK_ID = 7_274_202


class WebhookSubscriptions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_for_subscribing(self) -> None:
        """Until this unit of work ends, other processes wait here: one subscribes, the others find its
        subscription (PostgreSQL; SQLite has one writer at a time anyway)."""
        if is_postgres(self.session):
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": SUBSCRIBE_LOCK_ID})

    async def get(self, source: str) -> WebhookSubscriptionRecord | None:
        return await self.session.get(WebhookSubscriptionRecord, source)

    def replace_secret(self, subscription: WebhookSubscriptionRecord, sealed: str) -> None:
        """The same secret sealed anew (a key was configured since it was stored)."""
        subscription.secret = sealed

    async def save(self, source: str, subscription_id: str, url: str, sealed: str) -> None:
        """The subscription made now, in place of any before it."""
        await self.session.merge(
            WebhookSubscriptionRecord(
                source=source, subscription_id=subscription_id, url=url, secret=sealed, created_at=utcnow()
            )
        )
