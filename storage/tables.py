"""The bot's own tables: what it must remember between Slack deliveries and across restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

from storage.states import AnnouncementState, AuthLinkState, OutboxState, ReceiptState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database: SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class State(TypeDecorator[StrEnum]):
    """A state column: the enum's word as text (so a stored row reads as it always did), the enum when loaded."""

    impl = String(20)
    cache_ok = True

    def __init__(self, states: type[StrEnum]) -> None:
        super().__init__()
        self.states = states

    def process_bind_param(self, value: StrEnum | None, dialect: Dialect) -> str | None:
        return None if value is None else self.states(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        return None if value is None else self.states(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


def _state(initial: StrEnum) -> Any:
    return Field(default=initial, sa_column=Column(State(type(initial)), nullable=False))


class CompanyRecord(SQLModel, table=True):
    """A company registered with the expense-sync service from Slack."""

    __tablename__ = "companies"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    registered_by: str = Field(max_length=32)
    created_at: datetime = _when(nullable=False)


class ChannelLink(SQLModel, table=True):
    """A channel is linked to one company: everything typed there acts on it."""

    __tablename__ = "channel_links"

    channel_id: str = Field(primary_key=True, max_length=32)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=64)
    linked_by: str = Field(max_length=32)
    linked_at: datetime = _when(nullable=False)


class ConnectionRecord(SQLModel, table=True):
    """A connection as last observed, so that the watcher can tell a change from a repeat."""

    __tablename__ = "connections"

    id: str = Field(primary_key=True, max_length=64)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=64)
    integration_key: str = Field(max_length=40)
    platform_name: str = Field(max_length=100)
    status: str = Field(max_length=20)
    error_message: str | None = Field(default=None, max_length=1000)
    observed_at: datetime = _when(nullable=False)
    # Kept so the expense modal opens from local data, within Slack's three seconds.
    base_currency: str | None = Field(default=None, max_length=3)


class AuthLinkRecord(SQLModel, table=True):
    """An authorization link posted in a channel, watched until it is used or expires."""

    __tablename__ = "auth_links"
    __table_args__ = (Index("auth_links_by_state", "state"),)

    id: str = Field(primary_key=True, max_length=36)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=64)
    channel_id: str = Field(max_length=32)
    integration_key: str = Field(max_length=40)
    platform_name: str = Field(max_length=100)
    auth_url: str = Field(max_length=2000)
    requested_by: str = Field(max_length=32)
    # What the software's connection looked like when the link was made ("id@updatedAt", or ""):
    # the link is used when a CONNECTED connection of that software no longer matches it.
    baseline: str = Field(default="", max_length=200)
    # None: the link works until it is used (Codat's links do not expire).
    expires_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False)
    message_ts: str | None = Field(default=None, max_length=32)
    state: AuthLinkState = _state(AuthLinkState.PENDING)
    connection_id: str | None = Field(default=None, max_length=64)


class Announcement(SQLModel, table=True):
    """A message the bot owes a channel, recorded before it is sent so it is sent exactly once.

    ``key`` names the fact being announced (``connection:<id>:ERROR:<at>``); a second attempt to
    record the same fact finds the key and does nothing.
    """

    __tablename__ = "announcements"
    __table_args__ = (Index("announcements_by_state", "state", "created_at"),)

    key: str = Field(primary_key=True, max_length=200)
    channel_id: str = Field(max_length=32)
    kind: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: AnnouncementState = _state(AnnouncementState.PENDING)
    attempts: int = Field(default=0)
    lease_until: datetime | None = _when(nullable=True)
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: datetime = _when(nullable=False)
    sent_at: datetime | None = _when(nullable=True)


class ProcessedDelivery(SQLModel, table=True):
    """A Slack delivery already handled: a retried event or a double click finds itself here."""

    __tablename__ = "processed_deliveries"

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    received_at: datetime = _when(nullable=False, index=True)


class OutboxExpense(SQLModel, table=True):
    """The expense outbox: an expense is stored here, with its id, before anything is sent.

    ``state`` is the outbox's (waiting → sending → accepted, or rejected); ``status`` is what the
    expense-sync service last said of it (QUEUED, PROCESSING, SYNCED, FAILED).
    """

    __tablename__ = "expenses"
    __table_args__ = (Index("expenses_by_state", "state", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=36)
    company_id: str = Field(foreign_key="companies.id", index=True, max_length=64)
    connection_id: str = Field(max_length=64)
    channel_id: str = Field(max_length=32)
    submitted_by: str = Field(max_length=32)
    # What made it (a modal's view id): the same submission delivered twice finds the first.
    submission_key: str = Field(sa_column=Column(String(200), unique=True, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # the wire JSON, decimals exact
    currency: str = Field(max_length=3)
    total: str = Field(max_length=40)  # a decimal, as text: never a float
    merchant: str | None = Field(default=None, max_length=100)
    state: OutboxState = _state(OutboxState.WAITING)
    status: str | None = Field(default=None, max_length=20)
    sync_batch_id: str | None = Field(default=None, max_length=64, index=True)
    accounting_id: str | None = Field(default=None, max_length=200)
    error_message: str | None = Field(default=None, max_length=2000)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _when(nullable=False)
    lease_until: datetime | None = _when(nullable=True)
    message_ts: str | None = Field(default=None, max_length=32, index=True)
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)


class ReceiptRecord(SQLModel, table=True):
    """A Slack file on its way to an expense as an attachment, retried until it is there."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("expense_id", "slack_file_id", name="receipts_once_per_expense"),
        Index("receipts_by_state", "state", "next_attempt_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    expense_id: str = Field(foreign_key="expenses.id", index=True, max_length=36)
    slack_file_id: str = Field(max_length=32)
    channel_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    file_name: str | None = Field(default=None, max_length=300)
    state: ReceiptState = _state(ReceiptState.WAITING)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _when(nullable=False)
    error_message: str | None = Field(default=None, max_length=1000)
    attachment_id: str | None = Field(default=None, max_length=64)
    sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = _when(nullable=False)


class ReferenceCacheRecord(SQLModel, table=True):
    """A connection's reference data (accounts, tax rates …) as last fetched, for options that never wait."""

    __tablename__ = "reference_cache"

    connection_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=40)
    items: str = Field(sa_column=Column(Text, nullable=False))  # wire JSON list
    refreshed_at: datetime = _when(nullable=False)


class WatchCursor(SQLModel, table=True):
    """How far a watcher has read a changing list (``updatedSince``), so a restart goes on from there."""

    __tablename__ = "watch_cursors"

    name: str = Field(primary_key=True, max_length=40)
    position: datetime = _when(nullable=False)


class WebhookSubscriptionRecord(SQLModel, table=True):
    """The bot's subscription to a backend's webhooks: made once, its signing secret kept sealed."""

    __tablename__ = "webhook_subscriptions"

    source: str = Field(primary_key=True, max_length=40)
    subscription_id: str = Field(max_length=64)
    url: str = Field(max_length=2000)
    secret: str = Field(sa_column=Column(Text, nullable=False))  # bot.sealing: "fernet:…" or "plain:…"
    created_at: datetime = _when(nullable=False)


class WatchLease(SQLModel, table=True):
    """Which process makes a scheduled look this cycle: the others skip it while the lease runs."""

    __tablename__ = "watch_leases"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=64)
    lease_until: datetime = _when(nullable=False)


class ReceiptReadingRecord(SQLModel, table=True):
    """What the bot read from one shared file, kept so a click on its offer finds it ready, and so the same bytes
    shared again are read only once. Amounts are decimals as text; a field not read is NULL."""

    __tablename__ = "receipt_readings"

    file_id: str = Field(primary_key=True, max_length=32)
    sha256: str = Field(max_length=64, index=True)
    file_name: str = Field(max_length=300)
    merchant: str | None = Field(default=None, max_length=100)
    issue_date: str | None = Field(default=None, max_length=10)  # ISO date
    total: str | None = Field(default=None, max_length=40)
    tax: str | None = Field(default=None, max_length=40)
    currency: str | None = Field(default=None, max_length=3)
    problem: str | None = Field(default=None, max_length=300)
    created_at: datetime = _when(nullable=False)
