"""Connections to the accounting software, and the webhook event owed when one changes status."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from sync2books import wire
from sync2books.models import (
    INTEGRATION_NAMES,
    Connection,
    ConnectionChange,
    ConnectionErrorInfo,
    ConnectionStatus,
    IntegrationKey,
    WebhookEventType,
)
from sync2books.sandbox.store.base import format_ts, parse_required_ts
from sync2books.sandbox.store.webhooks import WebhookStore


class ConnectionStore(WebhookStore):
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
            created_at=parse_required_ts(row["created_at"]),
            updated_at=parse_required_ts(row["updated_at"]),
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
