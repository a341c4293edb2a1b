"""On SQLite the bot queues its units of work, so a burst never waits in SQLite's busy handler; nothing deadlocks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from storage import db as storage_db
from storage.db import Database
from storage.repositories import SeenDeliveries
from tests.support.databases import database_url


async def sqlite(tmp_path: Path, **options: bool) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}", **options)
    await database.upgrade()
    return database


async def test_units_of_work_on_sqlite_run_one_at_a_time_in_arrival_order(tmp_path: Path) -> None:
    database = await sqlite(tmp_path)
    inside: list[int] = []
    entered: list[int] = []
    overlap = 0

    async def unit(n: int) -> None:
        nonlocal overlap
        async with database.session() as session:
            entered.append(n)
            inside.append(n)
            overlap = max(overlap, len(inside))
            await SeenDeliveries(session).first_time(f"k{n}")
            await asyncio.sleep(0)  # give the others every chance to come in
            inside.remove(n)

    try:
        await asyncio.gather(*(unit(n) for n in range(30)))
        async with database.session() as session:
            assert all([await SeenDeliveries(session).seen(f"k{n}") for n in range(30)])
    finally:
        await database.dispose()
    assert overlap == 1
    assert entered == list(range(30))


async def test_a_session_inside_a_session_and_a_task_it_starts_do_not_wait_for_it(tmp_path: Path) -> None:
    database = await sqlite(tmp_path)

    async def read_in_a_task_of_its_own() -> bool:
        async with database.session() as session:
            return await SeenDeliveries(session).seen("outer")

    try:
        async with database.session() as session:
            await SeenDeliveries(session).first_time("outer")
            async with database.session() as inner:  # a read beside the writer, as WAL allows
                assert not await SeenDeliveries(inner).seen("outer")
            assert not await asyncio.wait_for(asyncio.create_task(read_in_a_task_of_its_own()), 5)
    finally:
        await database.dispose()


async def test_a_unit_of_work_that_waited_too_long_goes_ahead_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder that never lets go (a bug elsewhere) costs the others the wait, then SQLite's own rules apply."""
    monkeypatch.setattr(storage_db, "QUEUE_WAIT_SECONDS", 0.2)
    database = await sqlite(tmp_path)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with database.session():  # holds the queue, writes nothing
            holding.set()
            await release.wait()

    try:
        task = asyncio.create_task(holder())
        await holding.wait()
        async with database.session() as session:
            assert await SeenDeliveries(session).first_time("after the wait")
        release.set()
        await task
    finally:
        await database.dispose()


@pytest.mark.parametrize("kind", ["postgresql", "sqlite unqueued"])
async def test_postgresql_and_an_unqueued_sqlite_let_units_of_work_overlap(tmp_path: Path, kind: str) -> None:
    if kind == "postgresql":
        async with database_url("postgresql", tmp_path) as url:
            database = Database(url)
            await overlapping(database)
    else:
        await overlapping(await sqlite(tmp_path, queue_units_of_work=False))


async def overlapping(database: Database) -> None:
    inside = 0
    most = 0

    async def unit() -> None:
        nonlocal inside, most
        async with database.session():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    try:
        await asyncio.gather(*(unit() for _ in range(5)))
    finally:
        await database.dispose()
    assert most > 1
