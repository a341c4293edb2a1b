"""Authorization links: made for a company, checked when opened, spent once to connect its software."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosqlite

from sync2books.models import Connection, ConnectionStatus, IntegrationKey
from sync2books.sandbox.ledger import seed_ledger
from sync2books.sandbox.store.base import format_ts, hash_token, parse_ts
from sync2books.sandbox.store.companies import CompanyRow, CompanyStore
from sync2books.sandbox.store.reference_data import ledger_rows

AUTH_LINK_LIFETIME = timedelta(minutes=30)


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


class AuthLinkStore(CompanyStore):
    async def create_auth_link(self, company_id: str, integration_key: IntegrationKey) -> tuple[str, datetime]:
        token = secrets.token_urlsafe(24)
        expires_at = datetime.now(UTC) + AUTH_LINK_LIFETIME
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO auth_links (token_hash, company_id, integration_key, expires_at) VALUES (?, ?, ?, ?)",
                (hash_token(token), company_id, integration_key, format_ts(expires_at)),
            )
        return token, expires_at

    async def check_link(self, company_id: str, token: str) -> LinkTarget:
        """The link's target, or LinkRefused when it must not be used (unknown, used, expired)."""
        async with self._reading() as db:
            return await self._check_link(db, company_id, token)

    async def _check_link(self, db: aiosqlite.Connection, company_id: str, token: str) -> LinkTarget:
        token_hash = hash_token(token)
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
                    (hash_token(fresh), company_id),
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
                ledger_rows(connection_id, ledger),
            )
        if previous != ConnectionStatus.CONNECTED:
            await self._owe_connection_event(db, connection_id, previous)
        connection = await self._connection(db, connection_id)
        assert connection is not None
        return connection
