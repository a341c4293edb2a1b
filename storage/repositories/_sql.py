"""What every repository's queries share: the dialect, rows touched, first-writer-wins inserts, backlogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Executable, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


def is_postgres(session: AsyncSession) -> bool:
    """Row locks with SKIP LOCKED are PostgreSQL's; SQLite has one writer at a time anyway."""
    return dialect(session) == "postgresql"


def dialect(session: AsyncSession) -> str:
    bind = session.bind
    assert bind is not None
    return bind.dialect.name


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, the one that knows ON CONFLICT."""
    return pg_insert if is_postgres(session) else sqlite_insert


async def changed(session: AsyncSession, statement: Executable) -> int:
    """Rows an UPDATE, DELETE or INSERT touched."""
    result = await session.execute(statement)
    return int(cast("CursorResult[Any]", result).rowcount)


async def insert_new(session: AsyncSession, table: Any, values: dict[str, Any], key: str) -> bool:
    """Insert unless the key exists; True when this call inserted (the first one wins, races included)."""
    statement = insert_for(session)(table).values(**values).on_conflict_do_nothing(index_elements=[key])
    return await changed(session, statement) == 1


@dataclass(frozen=True)
class Backlog:
    """How much waits in an outbox, and since when (None: nothing waits)."""

    count: int
    oldest: datetime | None


async def backlog(session: AsyncSession, created_at: Any, waiting: ColumnElement[bool]) -> Backlog:
    count, oldest = (await session.execute(select(func.count(), func.min(created_at)).where(waiting))).one()
    return Backlog(int(count), _aware(oldest))


def _aware(oldest: datetime | str | None) -> datetime | None:
    if oldest is None:
        return None
    if isinstance(oldest, str):  # an aggregate over SQLite may come back as the stored text
        oldest = datetime.fromisoformat(oldest)
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return oldest
