"""The engine and sessions of the bot's own store, and its migrations.

SQLite by default (WAL, so readers never wait for the writer; units of work queued in this process, so writers
never sleep in SQLite's busy handler), PostgreSQL through ``DATABASE_URL``.
Migrations are Alembic's, run at start and by ``sync2books-bot db upgrade``; on PostgreSQL they hold
an advisory lock, so two processes starting together do not both migrate.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do; it only has to be the same in every process of this app.
MIGRATION_LOCK_ID = 7_274_201


# What the store raises when a statement or a commit fails: for the callers that may let it pass (a stop with the
# database already gone), so that they need not know it is SQLAlchemy underneath.
StorageError = SQLAlchemyError


# SQLite has one writer at a time; a unit of work that finds the file locked sleeps in SQLite's busy handler,
# which backs off up to 100 ms a try, so under a burst some waited seconds while the writer was long done.
# Queued here instead, in arrival order, each starts the moment the one before commits. Past this wait the
# unit of work goes ahead on its own and meets SQLite's busy timeout as it did before: never worse than that.
QUEUE_WAIT_SECONDS = 10.0
# Set while this task (and the tasks it starts) holds the queue: a session inside a session does not wait for
# itself.
_holding_queue: contextvars.ContextVar[bool] = contextvars.ContextVar("holding_sqlite_queue", default=False)


class DatabaseUnavailableError(Exception):
    """The database cannot be opened or reached; the message says why in a few plain words, never the password."""


def async_url(url: str) -> str:
    """The URL with the async driver this app uses: aiosqlite for SQLite, asyncpg for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def migration_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migration_config()).get_current_head()
    assert head is not None
    return head


class Database:
    def __init__(self, url: str, *, echo: bool = False, queue_units_of_work: bool | None = None) -> None:
        self.url = async_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        self._where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
        self._sqlite_file = (
            parsed.database if self.is_sqlite and parsed.database not in (None, "", ":memory:") else None
        )
        # Not created here: a directory that does not exist is more likely a typo than a wish.
        if self._sqlite_file is not None and not Path(self._sqlite_file).parent.is_dir():
            raise DatabaseUnavailableError(
                f"the directory of the SQLite file {self._sqlite_file} does not exist "
                f"({Path(self._sqlite_file).parent})"
            )
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        # PostgreSQL has row locks and its pool; only SQLite's single writer gains from waiting in line.
        self._queues = self.is_sqlite if queue_units_of_work is None else queue_units_of_work
        self._queue: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        async with self._in_line(), self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _in_line(self) -> AsyncIterator[None]:
        if not self._queues or _holding_queue.get():
            yield
            return
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue[0] is not loop:
            self._queue = (loop, asyncio.Lock())  # a lock belongs to one loop; a test may run several in turn
        queue = self._queue[1]
        try:
            await asyncio.wait_for(queue.acquire(), QUEUE_WAIT_SECONDS)
        except TimeoutError:
            waited_too_long = True
        else:
            waited_too_long = False
        if waited_too_long:
            yield  # SQLite's own busy timeout decides, as it did before the queue
            return
        token = _holding_queue.set(True)
        try:
            yield
        finally:
            _holding_queue.reset(token)
            queue.release()

    async def ping(self) -> None:
        """One round trip to the database; raises whatever the driver raises when it does not answer."""
        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    @asynccontextmanager
    async def _opened(self) -> AsyncIterator[AsyncConnection]:
        """A connection, or DatabaseUnavailableError saying why none could be had (what follows is not translated)."""
        if self._sqlite_file is not None:
            # Tried with the stdlib first: a failed aiosqlite connect leaves its thread a callback to the loop,
            # which fails with a traceback when the loop has closed first (a start that ends here).
            try:
                await asyncio.to_thread(lambda: sqlite3.connect(self._sqlite_file or "").close())
            except sqlite3.Error as exc:
                raise DatabaseUnavailableError(
                    f"the SQLite file {self._sqlite_file} cannot be opened or created ({exc})"
                ) from None
        try:
            connection = await self.engine.connect()
        except socket.gaierror:
            raise DatabaseUnavailableError(f"the host {self._where.rsplit(':', 1)[0]} is unknown") from None
        except OSError as exc:
            raise DatabaseUnavailableError(f"nothing answers at {self._where} ({_reason(exc)})") from None
        except DBAPIError as exc:
            if self._sqlite_file is not None:
                raise DatabaseUnavailableError(
                    f"the SQLite file {self._sqlite_file} cannot be opened or created ({exc.orig})"
                ) from None
            raise DatabaseUnavailableError(f"{self._where} refused: {exc.orig}") from None
        try:
            yield connection
        finally:
            await connection.close()

    async def upgrade(self, revision: str = "head") -> None:
        async with self._opened() as connection, connection.begin():
            if self.is_postgres:
                await connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": MIGRATION_LOCK_ID})
            await connection.run_sync(lambda sync: command.upgrade(migration_config(sync), revision))

    async def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        async with self._opened() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

    async def dispose(self) -> None:
        await self.engine.dispose()


def _reason(exc: OSError) -> str:
    # asyncpg tries every address of the host and reports "Multiple exceptions: …"; the first kind says enough.
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
        return "connection refused"
    return exc.strerror or type(exc).__name__
