"""Claims made side by side, as several bot processes make them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database


async def claimed_side_by_side(database: Database, claim: Callable[[AsyncSession], Awaitable[list[str]]]) -> list[str]:
    """Everything three claimers took, ten claims each (two, one after the other, on SQLite's one writer)."""

    async def claim_some() -> list[str]:
        taken: list[str] = []
        for _ in range(10):
            async with database.session() as session:
                taken += await claim(session)
            await asyncio.sleep(0)
        return taken

    if database.is_sqlite:
        results = [await claim_some(), await claim_some()]  # one writer at a time on SQLite
    else:
        results = list(await asyncio.gather(claim_some(), claim_some(), claim_some()))
    return [key for keys in results for key in keys]
