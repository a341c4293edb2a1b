"""The bot asked to post where it is not a member: the person is told once to invite it, and what it owes the
channel is posted once it is invited, even across a restart."""

from __future__ import annotations

import asyncio

from sync2books.models import Connection, ConnectionStatus
from tests.support.bot import ADMIN, RunningBot, bot_settings
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal, selected
from tests.support.expenses import LedgerRefs
from tests.support.fake_slack import BOT_USER_ID, FakeSlack, text_of
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient

CHANNEL = "C0NOBOT"


def without_the_bot(fake: FakeSlack) -> None:
    """A channel the admin is in and the bot is not (nobody has run /invite @Sync2Books there)."""
    fake.add_channel(CHANNEL, name="no-bot-here")
    fake.add_membership(ADMIN, CHANNEL)
    fake.remove_bot(CHANNEL)


async def company_in_channel(bot: RunningBot, fake: FakeSlack, client: SandboxClient) -> tuple[Connection, LedgerRefs]:
    """Acme Ltd with Xero in CHANNEL while the bot is still a member there."""
    fake.add_channel(CHANNEL, name="no-bot-here")
    fake.add_membership(ADMIN, CHANNEL)
    return await company_with_xero(bot, fake, client, channel=CHANNEL)


def told_to_invite(fake: FakeSlack) -> list[dict[str, object]]:
    return [m for m in fake.messages(ADMIN) if "/invite @Sync2Books" in text_of(m)]


def registered(fake: FakeSlack) -> list[dict[str, object]]:
    return [m for m in fake.messages(CHANNEL) if "registered *Acme Ltd*" in text_of(m)]


async def test_register_where_the_bot_is_not_a_member_says_so_up_front_and_posts_when_invited(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str
) -> None:
    without_the_bot(fake_slack)
    settings = bot_settings(fake_slack, bot_database, sandbox.url)
    with RunningBot(settings, fake_slack) as bot:
        answer = await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        assert answer.status_code == 200
        (said,) = await fake_slack.wait_for_responses(answer.response_key, timeout=10)
        assert f"I can't post in <#{CHANNEL}>" in text_of(said)
        assert "Type `/invite @Sync2Books` there" in text_of(said)
        (refused,) = await fake_slack.wait_for("chat.postMessage", where=lambda c: c.error == "not_in_channel")
        assert refused.params["channel"] == CHANNEL
        await asyncio.sleep(1)
    assert registered(fake_slack) == []
    assert told_to_invite(fake_slack) == []  # told up front: no direct message besides

    # A restart in between loses nothing; the invitation brings the owed message, once.
    with RunningBot(settings, fake_slack) as bot:
        fake_slack.invite_bot(CHANNEL)
        event = {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": CHANNEL, "inviter": ADMIN}
        assert (await bot.sender.event(event, event_id="Ev0JOINED")).status_code == 200
        await fake_slack.wait_for(
            "chat.postMessage", where=lambda c: c.params.get("channel") == CHANNEL and c.error is None, timeout=10
        )
        assert (await bot.sender.event(event, event_id="Ev0JOINED2")).status_code == 200
        await asyncio.sleep(1.5)
    assert len(registered(fake_slack)) == 1


async def test_a_connection_notice_where_the_bot_was_removed_tells_who_linked_the_channel_once(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, _ = await company_in_channel(bot, fake_slack, client)
    fake_slack.remove_bot(CHANNEL)  # someone removed the bot from the channel
    await client.switch_connection(connection.id, ConnectionStatus.ERROR)
    (dm,) = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN and c.error is None, timeout=15
    )
    assert f"I can't post in <#{CHANNEL}>" in text_of(dm.params)
    lost = [m for m in fake_slack.messages(CHANNEL) if "stopped accepting expenses" in text_of(m)]
    assert lost == []

    fake_slack.invite_bot(CHANNEL)
    event = {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": CHANNEL}
    assert (await bot.sender.event(event, event_id="Ev0BACK")).status_code == 200
    await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: "stopped accepting expenses" in text_of(c.params) and c.error is None
    )
    await asyncio.sleep(1.5)
    assert len([m for m in fake_slack.messages(CHANNEL) if "stopped accepting expenses" in text_of(m)]) == 1
    assert len(told_to_invite(fake_slack)) == 1


async def test_someone_else_joining_the_channel_changes_nothing(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str
) -> None:
    without_the_bot(fake_slack)
    with RunningBot(bot_settings(fake_slack, bot_database, sandbox.url), fake_slack) as bot:
        asked = await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        await fake_slack.wait_for("chat.postMessage", where=lambda c: c.error == "not_in_channel", timeout=10)
        event = {"type": "member_joined_channel", "user": "UMEMBER", "channel": CHANNEL}
        assert (await bot.sender.event(event, event_id="Ev0OTHER")).status_code == 200
        await asyncio.sleep(1.5)
        refused = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == CHANNEL]
        assert [c.error for c in refused] == ["not_in_channel"]  # not tried again: nobody invited the bot
        assert len(fake_slack.responses(asked.response_key)) == 1
    assert registered(fake_slack) == []


async def test_an_outcome_where_the_bot_was_removed_tells_the_submitter_once_and_is_posted_when_invited(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, refs = await company_in_channel(bot, fake_slack, client)
    view = await open_expense_modal(bot, fake_slack, channel=CHANNEL)
    values = filled(refs, merchant="Lonely Taxi")
    values["line0_account"] = {"opt_account": selected("acc-gone")}
    await client.configure_sandbox(latency_ms=1500)  # the batch ends after the bot is removed
    sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
    assert sent.status_code == 200
    await fake_slack.wait_for("chat.postMessage", where=lambda c: "submitted *Lonely Taxi*" in text_of(c.params))
    fake_slack.remove_bot(CHANNEL)
    await client.configure_sandbox(latency_ms=0)
    (dm,) = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN and c.error is None, timeout=20
    )
    assert f"I can't post in <#{CHANNEL}>" in text_of(dm.params)

    fake_slack.invite_bot(CHANNEL)
    event = {"type": "member_joined_channel", "user": BOT_USER_ID, "channel": CHANNEL}
    assert (await bot.sender.event(event, event_id="Ev0BACK2")).status_code == 200
    await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: "did not sync" in text_of(c.params) and c.error is None, timeout=10
    )
    await asyncio.sleep(1.5)
    assert len([m for m in fake_slack.messages(CHANNEL) if "did not sync" in text_of(m)]) == 1
    assert len(told_to_invite(fake_slack)) == 1
