from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.support.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The bot's database, migrated, on SQLite and on PostgreSQL in turn."""
    async with database_url(request.param, tmp_path) as url:
        db = Database(url)
        await db.upgrade()
        try:
            yield db
        finally:
            await db.dispose()
