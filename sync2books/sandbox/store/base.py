"""What every section of the store stands on: the one SQLite connection, its transactions, the clock, and how
timestamps, API keys and link tokens are stored."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite

from sync2books.sandbox.store.schema import SCHEMA

# Fixed width, so that ISO strings sort as the instants they name.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_ts(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def parse_required_ts(text: str) -> datetime:
    """A timestamp from a column that is never NULL."""
    moment = parse_ts(text)
    assert moment is not None
    return moment


def partner_of(api_key: str) -> str:
    """The partner a key belongs to, stored as a digest so the database never holds a key."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class StoreError(Exception):
    """A request the state refuses; ``code`` is the contract's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StoreBase:
    """The SQLite connection, its transactions and the clock, which every section of the store builds on."""

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
            self._last_ts = parse_required_ts(row[0])

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
