"""The sandbox's state in SQLite: companies, links, connections, ledgers, expenses, batches, attachments.

One connection, WAL, and an asyncio lock around every transaction: the sandbox is one process, and the
lock keeps one coroutine's statements out of another's transaction. Every write that must survive a
crash is committed before the API answers, so a restarted sandbox loses nothing it acknowledged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from sync2books import wire
from sync2books.models import (
    BATCH_EVENT_TYPES,
    INTEGRATION_NAMES,
    REFERENCE_MODELS,
    AcceptedExpense,
    Account,
    Attachment,
    BankAccount,
    BatchCounts,
    BatchExpense,
    BatchStatus,
    CompanyConfig,
    Connection,
    ConnectionChange,
    ConnectionErrorInfo,
    ConnectionStatus,
    Customer,
    Expense,
    ExpenseRecord,
    ExpenseStatus,
    IntegrationKey,
    ReferenceKind,
    Supplier,
    SyncBatch,
    SyncError,
    TaxRate,
    TrackingCategory,
    WebhookEventType,
    WebhookSubscription,
    WireModel,
)
from sync2books.sandbox.ledger import Ledger, seed_ledger

SCHEMA = """
CREATE TABLE IF NOT EXISTS companies (
    id TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    link_token TEXT NOT NULL,
    config TEXT
);
CREATE INDEX IF NOT EXISTS companies_by_partner ON companies (partner, created_at, id);
CREATE TABLE IF NOT EXISTS auth_links (
    token_hash TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    integration_key TEXT,
    expires_at TEXT,
    used_at TEXT
);
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    integration_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    base_currency TEXT NOT NULL,
    multi_currency INTEGER NOT NULL,
    error_code TEXT,
    error_message TEXT,
    synced_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS connections_by_company ON connections (company_id, created_at);
CREATE TABLE IF NOT EXISTS ledger_items (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (connection_id, kind, id)
);
CREATE INDEX IF NOT EXISTS ledger_items_in_order ON ledger_items (connection_id, kind, position);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    partner TEXT NOT NULL,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS batches_by_update ON batches (partner, updated_at, id);
CREATE INDEX IF NOT EXISTS batches_open ON batches (status, seq);
CREATE TABLE IF NOT EXISTS batch_items (
    batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    expense_id TEXT NOT NULL,
    status TEXT NOT NULL,
    accounting_id TEXT,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (batch_id, position)
);
CREATE TABLE IF NOT EXISTS expenses (
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    body TEXT NOT NULL,
    body_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    accounting_id TEXT,
    error_code TEXT,
    error_message TEXT,
    PRIMARY KEY (company_id, id)
);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    expense_id TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (company_id, expense_id, sha256)
);
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_by_partner ON webhook_subscriptions (partner, created_at, id);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    subscription_id TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
"""

# Fixed width, so that ISO strings sort as the instants they name.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
AUTH_LINK_LIFETIME = timedelta(minutes=30)


def format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _ts(text: str) -> datetime:
    moment = parse_ts(text)
    assert moment is not None
    return moment


def partner_of(api_key: str) -> str:
    """The partner a key belongs to, stored as a digest so the database never holds a key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def body_hash(connection_id: str, expense: Expense) -> str:
    """What "the same body" means for idempotency: the validated expense, in canonical form.

    Amounts are compared by value (12.5 and 12.50 are the same money), and the connection is part of
    the body, because the same id sent to another connection is a different request.
    """
    data = wire.to_data(expense, exclude_none=True)
    canonical = wire.dumps({"connectionId": connection_id, "expense": _normalized(data)})
    return hashlib.sha256(canonical).hexdigest()


def _normalized(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, dict):
        return {key: _normalized(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    return value


class StoreError(Exception):
    """A request the state refuses; ``code`` is the contract's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CompanyRow:
    id: str
    partner: str
    name: str
    description: str | None
    created_at: datetime
    link_token: str


@dataclass(frozen=True)
class LinkTarget:
    """What an authorization link points at, once its token has been checked."""

    company: CompanyRow
    integration_key: IntegrationKey | None
    expires_at: datetime | None
    token_hash: str


class LinkRefused(Exception):
    """An authorization link that must show an error page instead: unknown, used, or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AcceptOutcome:
    new_batch_id: str | None
    expenses: list[AcceptedExpense]


@dataclass(frozen=True)
class QueuedBatch:
    id: str
    status: BatchStatus
    created_at: datetime


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


@dataclass(frozen=True)
class ExpenseOutcome:
    status: ExpenseStatus
    accounting_id: str | None = None
    error: SyncError | None = None


class SandboxStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._last_ts = datetime.min.replace(tzinfo=UTC)
        # Called when a change owes a webhook delivery, so the deliverer looks now rather than at its next tick.
        self.event_owed: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.executescript(SCHEMA)
        async with self._db.execute("SELECT max(updated_at) FROM batches") as cursor:
            row = await cursor.fetchone()
        if row and row[0]:
            self._last_ts = _ts(row[0])

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the sandbox store is not open")
        return self._db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            yield self.db

    def now(self) -> datetime:
        """Strictly increasing, so that ``updatedSince`` never has to break a tie between two writes."""
        moment = datetime.now(UTC)
        if moment <= self._last_ts:
            moment = self._last_ts + timedelta(microseconds=1)
        self._last_ts = moment
        return moment

    @staticmethod
    async def _one(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with db.execute(sql, params) as cursor:
            return await cursor.fetchone()

    @staticmethod
    async def _all(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with db.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    # ------------------------------------------------------------------ companies

    @staticmethod
    def _company(row: aiosqlite.Row) -> CompanyRow:
        return CompanyRow(
            id=row["id"],
            partner=row["partner"],
            name=row["name"],
            description=row["description"],
            created_at=_ts(row["created_at"]),
            link_token=row["link_token"],
        )

    async def create_company(self, partner: str, name: str, description: str | None) -> CompanyRow:
        company_id = str(uuid.uuid4())
        token = secrets.token_urlsafe(24)
        async with self._transaction() as db:
            created = format_ts(self.now())
            await db.execute(
                "INSERT INTO companies (id, partner, name, description, created_at, link_token)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (company_id, partner, name, description, created, token),
            )
            await db.execute(
                "INSERT INTO auth_links (token_hash, company_id) VALUES (?, ?)",
                (_token_hash(token), company_id),
            )
        company = await self.get_company(partner, company_id)
        assert company is not None
        return company

    async def get_company(self, partner: str, company_id: str) -> CompanyRow | None:
        async with self._reading() as db:
            row = await self._one(db, "SELECT * FROM companies WHERE id = ? AND partner = ?", (company_id, partner))
        return self._company(row) if row else None

    async def list_companies(self, partner: str, page: int, page_size: int) -> tuple[list[CompanyRow], int]:
        async with self._reading() as db:
            total_row = await self._one(db, "SELECT count(*) FROM companies WHERE partner = ?", (partner,))
            rows = await self._all(
                db,
                "SELECT * FROM companies WHERE partner = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
                (partner, page_size, (page - 1) * page_size),
            )
        assert total_row is not None
        return [self._company(row) for row in rows], int(total_row[0])

    async def delete_company(self, partner: str, company_id: str) -> bool:
        async with self._transaction() as db:
            row = await self._one(db, "SELECT id FROM companies WHERE id = ? AND partner = ?", (company_id, partner))
            if row is None:
                return False
            # Disconnected first, as the contract says, so that nothing mid-flight syncs to it.
            connected = await self._all(
                db,
                "SELECT id, status FROM connections WHERE company_id = ? AND status != ?",
                (company_id, ConnectionStatus.DISCONNECTED),
            )
            await db.execute(
                "UPDATE connections SET status = ?, updated_at = ? WHERE company_id = ?",
                (ConnectionStatus.DISCONNECTED, format_ts(self.now()), company_id),
            )
            for gone in connected:
                await self._owe_connection_event(db, gone["id"], ConnectionStatus(gone["status"]))
            await db.execute("DELETE FROM companies WHERE id = ?", (company_id,))
        return True

    async def get_config(self, partner: str, company_id: str) -> CompanyConfig | None:
        async with self._reading() as db:
            row = await self._one(
                db, "SELECT config FROM companies WHERE id = ? AND partner = ?", (company_id, partner)
            )
        if row is None:
            return None
        return CompanyConfig.model_validate_json(row["config"]) if row["config"] else CompanyConfig()

    async def put_config(self, partner: str, company_id: str, config: CompanyConfig) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE companies SET config = ? WHERE id = ? AND partner = ?",
                (config.model_dump_json(by_alias=True), company_id, partner),
            )
            return cursor.rowcount == 1

    # ------------------------------------------------------------------ authorization links

    async def create_auth_link(self, company_id: str, integration_key: IntegrationKey) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(24)
        expires_at = datetime.now(UTC) + AUTH_LINK_LIFETIME
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO auth_links (token_hash, company_id, integration_key, expires_at) VALUES (?, ?, ?, ?)",
                (_token_hash(token), company_id, integration_key, format_ts(expires_at)),
            )
        return token, expires_at

    async def check_link(self, company_id: str, token: str) -> LinkTarget:
        """The link's target, or LinkRefused when it must not be used (unknown, used, expired)."""
        async with self._reading() as db:
            return await self._check_link(db, company_id, token)

    async def _check_link(self, db: aiosqlite.Connection, company_id: str, token: str) -> LinkTarget:
        token_hash = _token_hash(token)
        row = await self._one(
            db,
            "SELECT l.integration_key, l.expires_at, l.used_at, c.* FROM auth_links l"
            " JOIN companies c ON c.id = l.company_id WHERE l.token_hash = ? AND l.company_id = ?",
            (token_hash, company_id),
        )
        if row is None:
            raise LinkRefused("unknown")
        if row["used_at"] is not None:
            raise LinkRefused("used")
        expires_at = parse_ts(row["expires_at"])
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise LinkRefused("expired")
        key = IntegrationKey(row["integration_key"]) if row["integration_key"] else None
        return LinkTarget(self._company(row), key, expires_at, token_hash)

    async def use_link(
        self, company_id: str, token: str, integration_key: IntegrationKey, authorize: bool
    ) -> Connection | None:
        """Spend a link once: authorizing creates (or re-activates) the connection; denying creates nothing."""
        async with self._transaction() as db:
            target = await self._check_link(db, company_id, token)
            if target.integration_key is not None and target.integration_key != integration_key:
                raise LinkRefused("unknown")
            now = self.now()
            await db.execute(
                "UPDATE auth_links SET used_at = ? WHERE token_hash = ?", (format_ts(now), target.token_hash)
            )
            if target.integration_key is None:
                # The company's own link is spent too; its next read offers a fresh one.
                fresh = secrets.token_urlsafe(24)
                await db.execute("UPDATE companies SET link_token = ? WHERE id = ?", (fresh, company_id))
                await db.execute(
                    "INSERT INTO auth_links (token_hash, company_id) VALUES (?, ?)",
                    (_token_hash(fresh), company_id),
                )
            if not authorize:
                return None
            return await self._connect(db, company_id, integration_key, now)

    async def _connect(
        self, db: aiosqlite.Connection, company_id: str, integration_key: IntegrationKey, now: datetime
    ) -> Connection:
        existing = await self._one(
            db,
            "SELECT id, status FROM connections WHERE company_id = ? AND integration_key = ?",
            (company_id, integration_key),
        )
        previous = ConnectionStatus(existing["status"]) if existing is not None else None
        if existing is not None:
            # Authorizing the same software again repairs the connection the customer already had.
            await db.execute(
                "UPDATE connections SET status = ?, updated_at = ?, error_code = NULL, error_message = NULL"
                " WHERE id = ?",
                (ConnectionStatus.CONNECTED, format_ts(now), existing["id"]),
            )
            connection_id = str(existing["id"])
        else:
            connection_id = str(uuid.uuid4())
            ledger = seed_ledger(integration_key, connection_id)
            await db.execute(
                "INSERT INTO connections (id, company_id, integration_key, status, created_at, updated_at,"
                " base_currency, multi_currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    connection_id,
                    company_id,
                    integration_key,
                    ConnectionStatus.CONNECTED,
                    format_ts(now),
                    format_ts(now),
                    ledger.base_currency,
                    int(ledger.multi_currency),
                ),
            )
            await db.executemany(
                "INSERT INTO ledger_items (connection_id, kind, id, position, name, data) VALUES (?, ?, ?, ?, ?, ?)",
                _ledger_rows(connection_id, ledger),
            )
        if previous != ConnectionStatus.CONNECTED:
            await self._owe_connection_event(db, connection_id, previous)
        connection = await self._connection(db, connection_id)
        assert connection is not None
        return connection

    # ------------------------------------------------------------------ connections

    @staticmethod
    def _connection_model(row: aiosqlite.Row) -> Connection:
        key = IntegrationKey(row["integration_key"])
        error = ConnectionErrorInfo(code=row["error_code"], message=row["error_message"]) if row["error_code"] else None
        return Connection(
            id=row["id"],
            company_id=row["company_id"],
            integration_key=key,
            platform_name=INTEGRATION_NAMES[key],
            status=ConnectionStatus(row["status"]),
            created_at=_ts(row["created_at"]),
            updated_at=_ts(row["updated_at"]),
            base_currency=row["base_currency"],
            error=error,
        )

    async def _connection(self, db: aiosqlite.Connection, connection_id: str) -> Connection | None:
        row = await self._one(db, "SELECT * FROM connections WHERE id = ?", (connection_id,))
        return self._connection_model(row) if row else None

    async def list_connections(self, company_id: str) -> list[Connection]:
        async with self._reading() as db:
            rows = await self._all(
                db, "SELECT * FROM connections WHERE company_id = ? ORDER BY created_at, id", (company_id,)
            )
        return [self._connection_model(row) for row in rows]

    async def connections_of(self, company_ids: Sequence[str]) -> dict[str, list[Connection]]:
        found: dict[str, list[Connection]] = {company_id: [] for company_id in company_ids}
        if not company_ids:
            return found
        marks = ",".join("?" * len(company_ids))
        async with self._reading() as db:
            rows = await self._all(
                db,
                f"SELECT * FROM connections WHERE company_id IN ({marks}) ORDER BY created_at, id",  # noqa: S608
                tuple(company_ids),
            )
        for row in rows:
            found[row["company_id"]].append(self._connection_model(row))
        return found

    async def get_connection(self, partner: str, connection_id: str) -> Connection | None:
        """The connection if it belongs to one of this partner's companies."""
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT n.* FROM connections n JOIN companies c ON c.id = n.company_id"
                " WHERE n.id = ? AND c.partner = ?",
                (connection_id, partner),
            )
        return self._connection_model(row) if row else None

    async def set_connection_status(
        self, connection_id: str, status: ConnectionStatus, error: ConnectionErrorInfo | None = None
    ) -> Connection:
        async with self._transaction() as db:
            row = await self._one(db, "SELECT status FROM connections WHERE id = ?", (connection_id,))
            assert row is not None
            if row["status"] != status or error is not None:
                await db.execute(
                    "UPDATE connections SET status = ?, updated_at = ?, error_code = ?, error_message = ? WHERE id = ?",
                    (
                        status,
                        format_ts(self.now()),
                        error.code if error else None,
                        error.message if error else None,
                        connection_id,
                    ),
                )
            if row["status"] != status:
                await self._owe_connection_event(db, connection_id, ConnectionStatus(row["status"]))
            connection = await self._connection(db, connection_id)
        assert connection is not None
        return connection

    # ------------------------------------------------------------------ reference data

    async def list_reference(
        self, connection_id: str, kind: ReferenceKind, query: str | None, page: int, page_size: int
    ) -> tuple[list[WireModel], int]:
        where = "connection_id = ? AND kind = ?"
        params: list[Any] = [connection_id, kind.value]
        if query:
            where += " AND instr(lower(name), lower(?)) > 0"
            params.append(query)
        async with self._reading() as db:
            total_row = await self._one(db, f"SELECT count(*) FROM ledger_items WHERE {where}", params)  # noqa: S608
            rows = await self._all(
                db,
                f"SELECT data FROM ledger_items WHERE {where} ORDER BY position LIMIT ? OFFSET ?",  # noqa: S608
                [*params, page_size, (page - 1) * page_size],
            )
        assert total_row is not None
        model = REFERENCE_MODELS[kind]
        return [model.model_validate(wire.loads(row["data"])) for row in rows], int(total_row[0])

    async def _ledger_ids(self, db: aiosqlite.Connection, connection_id: str) -> dict[str, set[str]]:
        rows = await self._all(db, "SELECT kind, id FROM ledger_items WHERE connection_id = ?", (connection_id,))
        ids: dict[str, set[str]] = {kind.value: set() for kind in ReferenceKind}
        for row in rows:
            ids[row["kind"]].add(row["id"])
        return ids

    # ------------------------------------------------------------------ expenses

    async def accept_expenses(self, partner: str, connection: Connection, expenses: Sequence[Expense]) -> AcceptOutcome:
        """Queue what is new or failed before; answer what is known; refuse a changed body (409).

        All or nothing: a conflict on any item leaves every other item of the request unqueued.
        """
        async with self._transaction() as db:
            current = await self._connection(db, connection.id)
            if current is None or current.status != ConnectionStatus.CONNECTED:
                raise StoreError("connection_not_connected", "The connection is not CONNECTED; expenses are refused")
            to_queue: list[tuple[Expense, str]] = []
            answers: dict[str, AcceptedExpense] = {}
            for expense in expenses:
                digest = body_hash(connection.id, expense)
                row = await self._one(
                    db,
                    "SELECT status, batch_id, body_hash FROM expenses WHERE company_id = ? AND id = ?",
                    (connection.company_id, expense.id),
                )
                if row is None or row["status"] == ExpenseStatus.FAILED:
                    to_queue.append((expense, digest))
                elif row["body_hash"] == digest:
                    answers[expense.id] = AcceptedExpense(
                        id=expense.id, status=ExpenseStatus(row["status"]), sync_batch_id=row["batch_id"]
                    )
                else:
                    raise StoreError(
                        "conflict",
                        f"Expense {expense.id} was already submitted with a different body and is "
                        f"{row['status']}; use a new id for a different expense",
                    )
            batch_id: str | None = None
            if to_queue:
                batch_id = str(uuid.uuid4())
                now = format_ts(self.now())
                await db.execute(
                    "INSERT INTO batches (id, partner, company_id, connection_id, status, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (batch_id, partner, connection.company_id, connection.id, BatchStatus.QUEUED, now, now),
                )
                for position, (expense, digest) in enumerate(to_queue):
                    body = wire.dumps(expense, exclude_none=True).decode()
                    await db.execute(
                        "INSERT INTO expenses (company_id, id, connection_id, body, body_hash, status, batch_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (company_id, id) DO UPDATE SET"
                        " connection_id = excluded.connection_id, body = excluded.body,"
                        " body_hash = excluded.body_hash, status = excluded.status, batch_id = excluded.batch_id,"
                        " accounting_id = NULL, error_code = NULL, error_message = NULL",
                        (
                            connection.company_id,
                            expense.id,
                            connection.id,
                            body,
                            digest,
                            ExpenseStatus.QUEUED,
                            batch_id,
                        ),
                    )
                    await db.execute(
                        "INSERT INTO batch_items (batch_id, position, expense_id, status) VALUES (?, ?, ?, ?)",
                        (batch_id, position, expense.id, ExpenseStatus.QUEUED),
                    )
                    answers[expense.id] = AcceptedExpense(
                        id=expense.id, status=ExpenseStatus.QUEUED, sync_batch_id=batch_id
                    )
        return AcceptOutcome(batch_id, [answers[expense.id] for expense in expenses])

    async def get_expense(self, connection: Connection, expense_id: str) -> ExpenseRecord | None:
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT * FROM expenses WHERE company_id = ? AND id = ? AND connection_id = ?",
                (connection.company_id, expense_id, connection.id),
            )
            if row is None:
                return None
            attachments = await self._attachments(db, connection.company_id, expense_id)
        return ExpenseRecord(
            id=row["id"],
            status=ExpenseStatus(row["status"]),
            sync_batch_id=row["batch_id"],
            accounting_id=row["accounting_id"],
            error=SyncError(code=row["error_code"], message=row["error_message"]) if row["error_code"] else None,
            attachments=attachments,
            expense=Expense.model_validate(wire.loads(row["body"])),
        )

    async def expense_exists(self, connection: Connection, expense_id: str) -> bool:
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT 1 FROM expenses WHERE company_id = ? AND id = ? AND connection_id = ?",
                (connection.company_id, expense_id, connection.id),
            )
        return row is not None

    # ------------------------------------------------------------------ attachments

    @staticmethod
    def _attachment(row: aiosqlite.Row) -> Attachment:
        return Attachment(
            id=row["id"],
            expense_id=row["expense_id"],
            file_name=row["file_name"],
            content_type=row["content_type"],
            size=row["size"],
            sha256=row["sha256"],
        )

    async def _attachments(self, db: aiosqlite.Connection, company_id: str, expense_id: str) -> list[Attachment]:
        rows = await self._all(
            db,
            "SELECT * FROM attachments WHERE company_id = ? AND expense_id = ? ORDER BY created_at, id",
            (company_id, expense_id),
        )
        return [self._attachment(row) for row in rows]

    async def list_attachments(self, connection: Connection, expense_id: str) -> list[Attachment]:
        async with self._reading() as db:
            return await self._attachments(db, connection.company_id, expense_id)

    async def add_attachment(
        self, connection: Connection, expense_id: str, file_name: str, content_type: str, content: bytes
    ) -> tuple[Attachment, bool]:
        """Store the file; the same bytes again answer the existing attachment (``created`` False)."""
        digest = hashlib.sha256(content).hexdigest()
        async with self._transaction() as db:
            row = await self._one(
                db,
                "SELECT * FROM attachments WHERE company_id = ? AND expense_id = ? AND sha256 = ?",
                (connection.company_id, expense_id, digest),
            )
            if row is not None:
                return self._attachment(row), False
            attachment_id = str(uuid.uuid4())
            await db.execute(
                "INSERT INTO attachments (id, company_id, expense_id, file_name, content_type, size, sha256,"
                " content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attachment_id,
                    connection.company_id,
                    expense_id,
                    file_name,
                    content_type,
                    len(content),
                    digest,
                    content,
                    format_ts(self.now()),
                ),
            )
        return (
            Attachment(
                id=attachment_id,
                expense_id=expense_id,
                file_name=file_name,
                content_type=content_type,
                size=len(content),
                sha256=digest,
            ),
            True,
        )

    # ------------------------------------------------------------------ sync batches

    async def _batches(self, db: aiosqlite.Connection, rows: Iterable[aiosqlite.Row]) -> list[SyncBatch]:
        rows = list(rows)
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        item_rows = await self._all(
            db,
            f"SELECT * FROM batch_items WHERE batch_id IN ({marks}) ORDER BY batch_id, position",  # noqa: S608
            ids,
        )
        items: dict[str, list[BatchExpense]] = {batch_id: [] for batch_id in ids}
        for item in item_rows:
            error = SyncError(code=item["error_code"], message=item["error_message"]) if item["error_code"] else None
            items[item["batch_id"]].append(
                BatchExpense(
                    id=item["expense_id"],
                    status=ExpenseStatus(item["status"]),
                    accounting_id=item["accounting_id"],
                    error=error,
                )
            )
        batches = []
        for row in rows:
            expenses = items[row["id"]]
            batches.append(
                SyncBatch(
                    id=row["id"],
                    company_id=row["company_id"],
                    connection_id=row["connection_id"],
                    status=BatchStatus(row["status"]),
                    created_at=_ts(row["created_at"]),
                    updated_at=_ts(row["updated_at"]),
                    started_at=parse_ts(row["started_at"]),
                    completed_at=parse_ts(row["completed_at"]),
                    counts=BatchCounts(
                        total=len(expenses),
                        synced=sum(e.status == ExpenseStatus.SYNCED for e in expenses),
                        failed=sum(e.status == ExpenseStatus.FAILED for e in expenses),
                    ),
                    expenses=expenses,
                )
            )
        return batches

    async def get_batch(self, partner: str, batch_id: str) -> SyncBatch | None:
        async with self._reading() as db:
            row = await self._one(db, "SELECT * FROM batches WHERE id = ? AND partner = ?", (batch_id, partner))
            found = await self._batches(db, [row] if row else [])
        return found[0] if found else None

    async def list_batches(
        self,
        partner: str,
        *,
        company_id: str | None,
        connection_id: str | None,
        statuses: Sequence[BatchStatus],
        updated_since: datetime | None,
        page: int,
        page_size: int,
    ) -> tuple[list[SyncBatch], int]:
        where = ["partner = ?"]
        params: list[Any] = [partner]
        if company_id:
            where.append("company_id = ?")
            params.append(company_id)
        if connection_id:
            where.append("connection_id = ?")
            params.append(connection_id)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            params.extend(status.value for status in statuses)
        if updated_since is not None:
            where.append("updated_at > ?")
            params.append(format_ts(updated_since))
        clause = " AND ".join(where)
        async with self._reading() as db:
            total_row = await self._one(db, f"SELECT count(*) FROM batches WHERE {clause}", params)  # noqa: S608
            rows = await self._all(
                db,
                f"SELECT * FROM batches WHERE {clause} ORDER BY updated_at, id LIMIT ? OFFSET ?",  # noqa: S608
                [*params, page_size, (page - 1) * page_size],
            )
            batches = await self._batches(db, rows)
        assert total_row is not None
        return batches, int(total_row[0])

    # ------------------------------------------------------------------ batch processing

    async def next_open_batch(self) -> QueuedBatch | None:
        """The oldest batch not yet ended, across every partner: batches are processed in arrival order."""
        async with self._reading() as db:
            row = await self._one(
                db,
                "SELECT id, status, created_at FROM batches WHERE status IN (?, ?) ORDER BY seq LIMIT 1",
                (BatchStatus.QUEUED, BatchStatus.PROCESSING),
            )
        if row is None:
            return None
        return QueuedBatch(row["id"], BatchStatus(row["status"]), _ts(row["created_at"]))

    async def start_batch(self, batch_id: str) -> None:
        async with self._transaction() as db:
            now = format_ts(self.now())
            await db.execute(
                "UPDATE batches SET status = ?, started_at = ?, updated_at = ? WHERE id = ? AND status = ?",
                (BatchStatus.PROCESSING, now, now, batch_id, BatchStatus.QUEUED),
            )
            await db.execute(
                "UPDATE expenses SET status = ? WHERE batch_id = ? AND status = ?",
                (ExpenseStatus.PROCESSING, batch_id, ExpenseStatus.QUEUED),
            )
            await db.execute(
                "UPDATE batch_items SET status = ? WHERE batch_id = ? AND status = ?",
                (ExpenseStatus.PROCESSING, batch_id, ExpenseStatus.QUEUED),
            )

    async def finish_batch(self, batch_id: str, judge: ExpenseJudge) -> None:
        """Write every expense of the batch to the "accounting software" and end the batch, in one commit.

        One transaction: a crash half way leaves the batch PROCESSING with nothing written, and the next
        start processes it again from the beginning.
        """
        async with self._transaction() as db:
            batch = await self._one(db, "SELECT * FROM batches WHERE id = ?", (batch_id,))
            if batch is None or BatchStatus(batch["status"]).is_terminal:
                return
            connection_row = await self._one(db, "SELECT * FROM connections WHERE id = ?", (batch["connection_id"],))
            company = await self._one(db, "SELECT config FROM companies WHERE id = ?", (batch["company_id"],))
            assert connection_row is not None
            assert company is not None
            connection = self._connection_model(connection_row)
            config = CompanyConfig.model_validate_json(company["config"]) if company["config"] else CompanyConfig()
            ledger_ids = await self._ledger_ids(db, connection.id)
            synced_count = int(connection_row["synced_count"])
            items = await self._all(
                db,
                "SELECT position, expense_id FROM batch_items WHERE batch_id = ? ORDER BY position",
                (batch_id,),
            )
            outcomes: list[ExpenseOutcome] = []
            for item in items:
                body = await self._one(
                    db,
                    "SELECT body FROM expenses WHERE company_id = ? AND id = ?",
                    (batch["company_id"], item["expense_id"]),
                )
                assert body is not None
                expense = Expense.model_validate(wire.loads(body["body"]))
                outcome = judge(
                    connection,
                    bool(connection_row["multi_currency"]),
                    ledger_ids,
                    config,
                    expense,
                    synced_count,
                )
                if outcome.status == ExpenseStatus.SYNCED:
                    synced_count += 1
                outcomes.append(outcome)
                values = (
                    outcome.status,
                    outcome.accounting_id,
                    outcome.error.code if outcome.error else None,
                    outcome.error.message if outcome.error else None,
                )
                await db.execute(
                    "UPDATE batch_items SET status = ?, accounting_id = ?, error_code = ?, error_message = ?"
                    " WHERE batch_id = ? AND position = ?",
                    (*values, batch_id, item["position"]),
                )
                await db.execute(
                    "UPDATE expenses SET status = ?, accounting_id = ?, error_code = ?, error_message = ?"
                    " WHERE company_id = ? AND id = ? AND batch_id = ?",
                    (*values, batch["company_id"], item["expense_id"], batch_id),
                )
            synced = sum(outcome.status == ExpenseStatus.SYNCED for outcome in outcomes)
            if synced == len(outcomes):
                status = BatchStatus.COMPLETED
            elif synced == 0:
                status = BatchStatus.FAILED
            else:
                status = BatchStatus.PARTIALLY_FAILED
            now = format_ts(self.now())
            await db.execute(
                "UPDATE batches SET status = ?, updated_at = ?, completed_at = ?,"
                " started_at = coalesce(started_at, ?) WHERE id = ?",
                (status, now, now, now, batch_id),
            )
            await db.execute("UPDATE connections SET synced_count = ? WHERE id = ?", (synced_count, connection.id))
            ended = await self._one(db, "SELECT * FROM batches WHERE id = ?", (batch_id,))
            assert ended is not None
            [model] = await self._batches(db, [ended])
            await self._owe_event(
                db, batch["partner"], BATCH_EVENT_TYPES[status], wire.to_data(model), model.updated_at
            )

    # ------------------------------------------------------------------ webhooks

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
            created_at=_ts(row["created_at"]),
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

    async def _owe_connection_event(
        self, db: aiosqlite.Connection, connection_id: str, previous: ConnectionStatus | None
    ) -> None:
        row = await self._one(
            db,
            "SELECT n.*, c.partner FROM connections n JOIN companies c ON c.id = n.company_id WHERE n.id = ?",
            (connection_id,),
        )
        assert row is not None
        connection = self._connection_model(row)
        data = ConnectionChange(**connection.model_dump(), previous_status=previous)
        await self._owe_event(
            db, row["partner"], WebhookEventType.CONNECTION_STATUS_CHANGED, wire.to_data(data), connection.updated_at
        )

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


def _ledger_rows(connection_id: str, ledger: Ledger) -> list[tuple[str, str, str, int, str, str]]:
    lists: dict[ReferenceKind, Sequence[Account | TaxRate | Supplier | Customer | BankAccount | TrackingCategory]] = {
        ReferenceKind.ACCOUNTS: ledger.accounts,
        ReferenceKind.TAX_RATES: ledger.tax_rates,
        ReferenceKind.SUPPLIERS: ledger.suppliers,
        ReferenceKind.CUSTOMERS: ledger.customers,
        ReferenceKind.BANK_ACCOUNTS: ledger.bank_accounts,
        ReferenceKind.TRACKING_CATEGORIES: ledger.tracking_categories,
    }
    return [
        (connection_id, kind.value, item.id, position, item.name, wire.dumps(item).decode())
        for kind, items in lists.items()
        for position, item in enumerate(items)
    ]


class ExpenseJudge(Protocol):
    """Decides how one expense fares in the accounting software."""

    def __call__(
        self,
        connection: Connection,
        multi_currency: bool,
        ledger_ids: dict[str, set[str]],
        config: CompanyConfig,
        expense: Expense,
        synced_count: int,
    ) -> ExpenseOutcome: ...
