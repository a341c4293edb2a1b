"""Exactly once through a crash: the bot SIGKILLed right after the local save, and right after the API call."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from storage.db import Database
from storage.tables import OutboxExpense
from sync2books.models import Connection
from sync2books.sandbox.app import Sandbox
from tests.support.bot import ADMIN, SIGNING_SECRET
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.sandbox import TEST_KEY, SandboxServer
from tests.support.sandbox_client import SandboxClient
from tests.support.slack_requests import SlackSender

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    """Just enough of RunningBot's face (``sender``) for the shared helpers, over a real process."""

    def __init__(self, sender: SlackSender, process: asyncio.subprocess.Process) -> None:
        self.sender = sender
        self.process = process


@asynccontextmanager
async def bot_process(fake: FakeSlack, sandbox: SandboxServer, database_url: str) -> AsyncIterator[BotProcess]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SYNC2BOOKS_", "DATABASE_"))},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "SYNC2BOOKS_API_URL": sandbox.url,
        "SYNC2BOOKS_API_KEY": TEST_KEY,
        "DATABASE_URL": database_url,
        "PORT": "0",
        "POLL_INTERVAL_SECONDS": "0.2",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
    found = re.search(r"Slack sends to (http://\S+)/slack/events", line)
    assert found, line
    try:
        async with SlackSender(f"{found.group(1)}/slack/events", SIGNING_SECRET, fake=fake) as sender:
            yield BotProcess(sender, process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()


async def kill(bot: BotProcess) -> None:
    bot.process.send_signal(signal.SIGKILL)  # no goodbye, no cleanup
    await bot.process.wait()


async def sync2books_ids(sandbox: SandboxServer, connection: Connection) -> list[str]:
    """Read from the sandbox's own store: its API may be answering nothing but faults."""

    async def read(s: Sandbox) -> list[str]:
        async with s.store.db.execute("SELECT id FROM expenses WHERE connection_id = ?", (connection.id,)) as rows:
            return [row[0] for row in await rows.fetchall()]

    return await sandbox.call(read)


async def outbox(database_url: str) -> list[OutboxExpense]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            return list((await session.execute(select(OutboxExpense))).scalars())
    finally:
        await db.dispose()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 40) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(0.2)


async def test_killed_right_after_the_local_save(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    async with bot_process(fake_slack, sandbox, url) as bot:
        connection, refs = await company_with_xero(bot, fake_slack, client)  # type: ignore[arg-type]
        # Sync2Books refuses everything before handling it (429), so the expense can only be in the bot's store.
        await client.configure_sandbox(rate_limit_per_minute=6)  # 429s with a Retry-After of at most 10 s
        await client.list_integrations()
        view = await open_expense_modal(bot, fake_slack)  # type: ignore[arg-type]
        sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=filled(refs), view=view)
        assert sent.status_code == 200
        await kill(bot)
    (saved,) = await outbox(url)
    assert saved.state in ("waiting", "sending")
    await client.configure_sandbox(rate_limit_per_minute=None)
    assert await sync2books_ids(sandbox, connection) == []

    async with bot_process(fake_slack, sandbox, url):

        async def sent_once() -> bool:
            return await sync2books_ids(sandbox, connection) == [saved.id]

        await eventually(sent_once)
        await asyncio.sleep(1.0)
    assert await sync2books_ids(sandbox, connection) == [saved.id]
    (after,) = await outbox(url)
    assert after.state == "accepted"


async def test_killed_right_after_the_api_call(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    async with bot_process(fake_slack, sandbox, url) as bot:
        connection, refs = await company_with_xero(bot, fake_slack, client)  # type: ignore[arg-type]
        # Sync2Books takes the expense but every answer is lost on the way back (503 after handling).
        await client.configure_sandbox(error_rate=1.0)
        view = await open_expense_modal(bot, fake_slack)  # type: ignore[arg-type]
        await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=filled(refs), view=view)

        async def in_sync2books() -> bool:
            return len(await sync2books_ids(sandbox, connection)) == 1

        await eventually(in_sync2books)
        await kill(bot)
    (saved,) = await outbox(url)
    assert saved.state != "accepted"  # the bot never heard that it worked
    await client.configure_sandbox(error_rate=0.0)

    async with bot_process(fake_slack, sandbox, url):

        async def recorded() -> bool:
            return [e.state for e in await outbox(url)] == ["accepted"]

        await eventually(recorded)
    assert await sync2books_ids(sandbox, connection) == [saved.id]  # sent again under its id: still one
