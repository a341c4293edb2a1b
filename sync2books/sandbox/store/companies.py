"""Companies, their configuration, and their deletion (which disconnects them first)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from sync2books.models import CompanyConfig, ConnectionStatus
from sync2books.sandbox.store.base import format_ts, hash_token, parse_required_ts
from sync2books.sandbox.store.connections import ConnectionStore


@dataclass(frozen=True)
class CompanyRow:
    id: str
    partner: str
    name: str
    description: str | None
    created_at: datetime
    link_token: str


class CompanyStore(ConnectionStore):
    @staticmethod
    def _company(row: aiosqlite.Row) -> CompanyRow:
        return CompanyRow(
            id=row["id"],
            partner=row["partner"],
            name=row["name"],
            description=row["description"],
            created_at=parse_required_ts(row["created_at"]),
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
                (hash_token(token), company_id),
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
