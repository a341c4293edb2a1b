"""The journey of PRODUCT.md, driven as Slack drives the bot: register → connect → authorize → told; disconnect."""

from __future__ import annotations

from sync2books.models import ConnectionStatus, IntegrationKey
from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.databases import postgres_database
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer, authorize
from tests.support.sandbox_client import SandboxClient


async def test_register_connect_authorize_and_disconnect(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await journey(bot, fake_slack, client)


async def test_the_journey_on_postgresql(fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient) -> None:
    async with postgres_database() as url:
        with RunningBot(bot_settings(fake_slack, url, sandbox.url), fake_slack) as bot:
            await journey(bot, fake_slack, client)


async def journey(bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient) -> None:
    registered = await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    assert registered.status_code == 200
    (announcement,) = await fake_slack.wait_for("chat.postMessage")
    message = fake_slack.messages(CHANNEL)[-1]
    assert f"<@{ADMIN}> registered *Acme Ltd* with Sync2Books" in text_of(message)
    assert "/sync2books connect" in text_of(message)
    (company,) = (await client.list_companies()).results
    assert company.name == "Acme Ltd"

    await bot.sender.command("connect qbo", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage", count=2)
    link_message = fake_slack.messages(CHANNEL)[-1]
    buttons = [
        element for block in link_message["blocks"] if block.get("accessory") for element in [block["accessory"]]
    ]
    assert [b["text"]["text"] for b in buttons] == ["Connect QuickBooks Online"]
    auth_url = buttons[0]["url"]
    assert f"/link/{company.id}/QUICKBOOKS?token=" in auth_url

    page = await authorize(auth_url)
    assert page.status_code == 200
    await fake_slack.wait_for("chat.postMessage", count=3, timeout=10)
    connected = fake_slack.messages(CHANNEL)[-1]
    assert "*QuickBooks Online* is connected for *Acme Ltd*" in text_of(connected)
    await fake_slack.wait_for("chat.update", where=lambda call: call.params.get("ts") == link_message["ts"])
    edited = next(m for m in fake_slack.messages(CHANNEL) if m["ts"] == link_message["ts"])
    assert "connected." in text_of(edited)
    assert not any(block.get("accessory") for block in edited["blocks"])  # the used link's button is gone

    asked = await bot.sender.command("disconnect quickbooks", user_id=ADMIN, channel_id=CHANNEL)
    (prompt,) = await fake_slack.wait_for_responses(asked.response_key)
    assert "Disconnect *QuickBooks Online* from *Acme Ltd*?" in text_of(prompt)
    (connection,) = await client.list_connections(company.id)
    clicked = await bot.sender.action(
        user_id=ADMIN, action_id="disconnect_confirm", value=connection.id, channel_id=CHANNEL
    )
    assert clicked.status_code == 200
    (done,) = await fake_slack.wait_for_responses(clicked.response_key)
    assert "Disconnected QuickBooks Online from Acme Ltd." in text_of(done)
    await fake_slack.wait_for("chat.postMessage", count=4)
    assert f"<@{ADMIN}> disconnected *QuickBooks Online* from *Acme Ltd*" in text_of(fake_slack.messages(CHANNEL)[-1])
    assert (await client.get_connection(company.id, connection.id)).status == ConnectionStatus.DISCONNECTED

    # Watching goes on: nothing more is said about the disconnect the bot made itself.
    await bot.sender.command("connections", user_id=ADMIN, channel_id=CHANNEL)
    assert len(fake_slack.messages(CHANNEL)) == 4
    assert IntegrationKey.QUICKBOOKS.value == connection.integration_key.value
    assert announcement.params["channel"] == CHANNEL
