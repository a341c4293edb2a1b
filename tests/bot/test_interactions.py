"""Ack within Slack's three seconds, the register modal, Home, redeliveries and double clicks."""

from __future__ import annotations

import asyncio

from sync2books.models import ConnectionStatus
from tests.support.bot import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, RunningBot
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import authorize
from tests.support.sandbox_client import SandboxClient


async def test_commands_are_acknowledged_well_inside_three_seconds_while_sync2books_takes_two(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await client.configure_sandbox(latency_ms=2000)
    timings = []
    for text in ("register Slow Ltd", "connect xero", "connections", "disconnect xero", "help"):
        sent = await bot.sender.command(text, user_id=ADMIN, channel_id=CHANNEL)
        assert sent.status_code == 200
        timings.append(sent.elapsed)
        if text.startswith("register"):
            await fake_slack.wait_for("chat.postMessage", timeout=10)
    print(f"ack times with 2 s Sync2Books latency: {[round(t * 1000) for t in timings]} ms")
    assert max(timings) < 1.0, timings
    await fake_slack.wait_for("chat.postMessage", count=2, timeout=15)  # and the work was still done
    await client.configure_sandbox(latency_ms=0)


async def test_register_without_a_name_opens_a_modal_that_checks_the_name(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await bot.sender.command("register", user_id=ADMIN, channel_id=CHANNEL)
    (opened,) = await fake_slack.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "register_company"
    assert view["private_metadata"] == CHANNEL

    empty = await bot.sender.submit_view(
        user_id=ADMIN, callback_id="register_company", values={"name": {"value": "   "}}, private_metadata=CHANNEL
    )
    assert empty.response.json() == {"response_action": "errors", "errors": {"name": "Give the company a name."}}
    assert (await client.list_companies()).total == 0

    done = await bot.sender.submit_view(
        user_id=ADMIN,
        callback_id="register_company",
        values={"name": {"value": "Modal Co"}, "description": {"value": "From the modal"}},
        private_metadata=CHANNEL,
    )
    assert done.status_code == 200
    assert done.response.content in (b"", b"{}")  # the modal closes
    await fake_slack.wait_for("chat.postMessage")
    (company,) = (await client.list_companies()).results
    assert (company.name, company.description) == ("Modal Co", "From the modal")

    # The same view submitted again (a double click on Register) creates nothing more.
    again = await bot.sender.submit_view(
        user_id=ADMIN, callback_id="register_company", values={"name": {"value": "Modal Co"}}, private_metadata=CHANNEL
    )
    assert again.status_code == 200
    (ephemeral,) = await fake_slack.wait_for("chat.postEphemeral")
    assert "already linked to *Modal Co*" in text_of(ephemeral.params)
    assert (await client.list_companies()).total == 1


async def test_a_member_does_not_get_the_register_modal(bot: RunningBot, fake_slack: FakeSlack) -> None:
    sent = await bot.sender.command("register", user_id=MEMBER, channel_id=CHANNEL)
    (answer,) = await fake_slack.wait_for_responses(sent.response_key)
    assert "Only workspace admins" in text_of(answer)
    assert fake_slack.calls_to("views.open") == []


async def test_link_and_connections(bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient) -> None:
    company = await client.create_company("Existing Co")
    link = await client.get_auth_url(company.id, "SAGE")
    await authorize(link.auth_url)
    await bot.sender.command(f"link {company.id}", user_id=ADMIN, channel_id=OTHER_CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    assert f"<@{ADMIN}> linked this channel to *Existing Co*" in text_of(fake_slack.messages(OTHER_CHANNEL)[-1])

    fake_slack.add_membership(MEMBER, OTHER_CHANNEL)  # Slack takes a command only from someone in the channel
    sent = await bot.sender.command("connections", user_id=MEMBER, channel_id=OTHER_CHANNEL)
    (answer,) = await fake_slack.wait_for_responses(sent.response_key)
    assert "*Existing Co*'s connections" in text_of(answer)
    assert "*Sage* — :large_green_circle: connected since <!date^" in text_of(answer)
    await asyncio.sleep(0.6)  # the watcher does not announce a connection that existed before the link
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_a_double_click_on_disconnect_disconnects_and_announces_once(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    company = await client.create_company("Clicky Co")
    await authorize((await client.get_auth_url(company.id, "XERO")).auth_url)
    await bot.sender.command(f"link {company.id}", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    (connection,) = await client.list_connections(company.id)
    clicks = await asyncio.gather(
        *(
            bot.sender.action(user_id=ADMIN, action_id="disconnect_confirm", value=connection.id, channel_id=CHANNEL)
            for _ in range(2)
        )
    )
    assert [c.status_code for c in clicks] == [200, 200]
    await fake_slack.wait_for("chat.postMessage", count=2)
    await asyncio.sleep(0.6)
    said = [m for m in fake_slack.messages(CHANNEL) if "disconnected *Xero*" in text_of(m)]
    assert len(said) == 1
    assert (await client.get_connection(company.id, connection.id)).status == ConnectionStatus.DISCONNECTED

    member_click = await bot.sender.action(
        user_id=MEMBER, action_id="disconnect_confirm", value=connection.id, channel_id=CHANNEL
    )
    (refused,) = await fake_slack.wait_for_responses(member_click.response_key)
    assert "Only workspace admins" in text_of(refused)


async def test_the_home_tab_shows_the_users_companies_once_per_delivery(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    await bot.sender.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage", count=2)
    await authorize(fake_slack.messages(CHANNEL)[-1]["blocks"][1]["accessory"]["url"])
    await fake_slack.wait_for("chat.postMessage", count=3, timeout=10)

    event = {"type": "app_home_opened", "user": MEMBER, "channel": "D0MEMBER", "tab": "home"}
    first = await bot.sender.event(event, event_id="Ev0HOME1")
    retried = await bot.sender.event(event, event_id="Ev0HOME1", retry_num=1)
    assert (first.status_code, retried.status_code) == (200, 200)
    (published,) = await fake_slack.wait_for("views.publish")
    await asyncio.sleep(0.3)
    assert len(fake_slack.calls_to("views.publish")) == 1  # the redelivery changed nothing
    home = text_of(fake_slack.home(MEMBER))
    assert "*Acme Ltd*" in home
    assert f"<#{CHANNEL}>" in home
    assert "Xero — :large_green_circle: connected" in home
    assert published.params["user_id"] == MEMBER


async def test_a_direct_message_acts_on_the_users_only_company(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    sent = await bot.sender.command("connections", user_id=MEMBER, channel_id="D0MEMBER")
    (answer,) = await fake_slack.wait_for_responses(sent.response_key)
    assert "*Acme Ltd* has no connections yet" in text_of(answer)

    fake_slack.add_membership(MEMBER, OTHER_CHANNEL)
    await bot.sender.command("register Beta LLC", user_id=ADMIN, channel_id=OTHER_CHANNEL)
    await fake_slack.wait_for("chat.postMessage", count=2)
    sent = await bot.sender.command("connections", user_id=MEMBER, channel_id="D0MEMBER")
    (answer,) = await fake_slack.wait_for_responses(sent.response_key)
    assert "You are in channels of several companies" in text_of(answer)
    assert "*Acme Ltd*" in text_of(answer)
    assert "*Beta LLC*" in text_of(answer)
