from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.bot import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, RunningBot, bot_settings
from tests.support.databases import database_url
from tests.support.fake_slack import FakeSlack
from tests.support.sandbox import SandboxServer


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user(ADMIN, name="ada", is_admin=True)
        fake.add_user(MEMBER, name="max")
        fake.add_channel(CHANNEL, name="acme-books")
        fake.add_channel(OTHER_CHANNEL, name="other-books")
        for user in (ADMIN, MEMBER):
            fake.add_membership(user, CHANNEL)
        yield fake


@pytest.fixture
async def bot_database(tmp_path: Path) -> AsyncIterator[str]:
    async with database_url("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def bot(fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str) -> Iterator[RunningBot]:
    with RunningBot(bot_settings(fake_slack, bot_database, sandbox.url), fake_slack) as running:
        yield running
