"""The scheduled watcher: connections that break, links that expire — each said once, restarts included."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from storage.db import Database
from storage.tables import utcnow
from sync2books.models import ConnectionStatus, IntegrationKey
from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer, authorize
from tests.support.sandbox_client import SandboxClient


async def register_and_connect(bot: RunningBot, fake: FakeSlack, client: SandboxClient) -> tuple[str, str]:
    """A registered company with a connected Xero, all announced; answers (company id, connection id)."""
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake.wait_for("chat.postMessage")
    await bot.sender.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
    await fake.wait_for("chat.postMessage", count=2)
    link = fake.messages(CHANNEL)[-1]["blocks"][1]["accessory"]["url"]
    assert (await authorize(link)).status_code == 200
    await fake.wait_for("chat.postMessage", count=3, timeout=10)
    (company,) = (await client.list_companies()).results
    (connection,) = await client.list_connections(company.id)
    return company.id, connection.id


def messages_saying(fake: FakeSlack, words: str) -> list[str]:
    return [text_of(m) for m in fake.messages(CHANNEL) if words in text_of(m)]


async def test_a_connection_in_error_is_reported_once_also_after_a_restart(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, bot_database: str
) -> None:
    settings = bot_settings(fake_slack, bot_database, sandbox.url)
    with RunningBot(settings, fake_slack) as bot:
        _, connection_id = await register_and_connect(bot, fake_slack, client)
        await client.switch_connection(connection_id, ConnectionStatus.ERROR)
        await fake_slack.wait_for("chat.postMessage", count=4, timeout=10)
        await asyncio.sleep(1.0)  # five more looks at the same ERROR
    said = messages_saying(fake_slack, "stopped accepting expenses")
    assert len(said) == 1
    assert "The Xero access token expired; the customer must authorize again" in said[0]
    assert "/sync2books connect xero" in said[0]

    with RunningBot(settings, fake_slack) as restarted:
        await asyncio.sleep(1.0)
        assert restarted.url
    assert len(messages_saying(fake_slack, "stopped accepting expenses")) == 1
    assert len(fake_slack.calls_to("chat.postMessage")) == 4


async def test_a_connection_disconnected_in_the_software_is_reported_once_with_what_to_do(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, connection_id = await register_and_connect(bot, fake_slack, client)
    await client.switch_connection(connection_id, ConnectionStatus.DISCONNECTED)
    await fake_slack.wait_for("chat.postMessage", count=4, timeout=10)
    await asyncio.sleep(0.6)
    (said,) = messages_saying(fake_slack, "was disconnected from")
    assert "*Xero* was disconnected from *Acme Ltd*" in said
    assert "To reconnect, an admin can run `/sync2books connect xero`" in said


async def test_an_unused_link_that_expires_is_reported_once(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, bot_database: str
) -> None:
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    await bot.sender.command("connect sage", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage", count=2)
    link_ts = fake_slack.messages(CHANNEL)[-1]["ts"]
    db = Database(bot_database)
    async with db.session() as session:
        await session.execute(
            text("UPDATE auth_links SET expires_at = :past"), {"past": utcnow() - timedelta(seconds=1)}
        )
    await db.dispose()
    await fake_slack.wait_for("chat.postMessage", count=3, timeout=10)
    await asyncio.sleep(0.6)
    (said,) = messages_saying(fake_slack, "expired before anyone used it")
    assert "The *Sage* link for *Acme Ltd* expired" in said
    assert "/sync2books connect sage" in said
    edited = next(m for m in fake_slack.messages(CHANNEL) if m["ts"] == link_ts)
    assert "this link expired unused" in text_of(edited)


async def test_a_connection_made_outside_a_posted_link_is_announced_too(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    (company,) = (await client.list_companies()).results
    link = await client.get_auth_url(company.id, IntegrationKey.QUICKBOOKS_DESKTOP)  # not through Slack
    assert (await authorize(link.auth_url)).status_code == 200
    await fake_slack.wait_for("chat.postMessage", count=2, timeout=10)
    assert "*QuickBooks Desktop* is connected for *Acme Ltd*" in text_of(fake_slack.messages(CHANNEL)[-1])


async def test_the_watcher_survives_a_failing_api_and_catches_up(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, connection_id = await register_and_connect(bot, fake_slack, client)
    await client.configure_sandbox(error_rate=1.0)
    await client.configure_sandbox(error_rate=1.0)
    await client.switch_connection(connection_id, ConnectionStatus.ERROR)
    await asyncio.sleep(1.0)
    assert len(fake_slack.calls_to("chat.postMessage")) == 3  # nothing could be seen
    await client.configure_sandbox(error_rate=0.0)
    await fake_slack.wait_for("chat.postMessage", count=4, timeout=20)
    assert len(messages_saying(fake_slack, "stopped accepting expenses")) == 1


async def test_slack_rate_limits_delay_announcements_but_lose_none(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=2)
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    calls = await fake_slack.wait_for("chat.postMessage", count=3, timeout=10)
    assert [call.rate_limited for call in calls] == [True, True, False]
    assert len(fake_slack.messages(CHANNEL)) == 1


async def test_a_link_used_before_its_message_is_recorded_still_loses_its_button(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    """The look and the sender run at once: the news of a used link can be owed before the link message's ts is."""
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    (company,) = (await client.list_companies()).results
    fake_slack.rate_limit("chat.postMessage", retry_after=3)  # the link message waits 3 s to be posted…
    await bot.sender.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
    link = await client.get_auth_url(company.id, IntegrationKey.XERO)
    assert (await authorize(link.auth_url)).status_code == 200  # … while Xero is connected and looked at
    await fake_slack.wait_for("chat.postMessage", count=4, timeout=15)  # the refused post counts too
    # As posted (the edit that follows the news can land before the test reads the channel).
    link_post, connected = [call.params for call in fake_slack.calls_to("chat.postMessage") if call.error is None][-2:]
    assert "Connect Xero" in str(link_post["blocks"])
    assert "*Xero* is connected for *Acme Ltd*" in text_of(connected)
    link_message = next(m for m in fake_slack.messages(CHANNEL) if "Connect *Acme Ltd*" in text_of(m))
    await fake_slack.wait_for("chat.update", where=lambda call: call.params.get("ts") == link_message["ts"], timeout=10)
    edited = next(m for m in fake_slack.messages(CHANNEL) if m["ts"] == link_message["ts"])
    assert not [block for block in edited["blocks"] if block.get("accessory")], edited["blocks"]
