"""The bot asked to post where it is not a member: the person is told once to invite it, and what it owes the
channel is posted once it is invited, even across a restart."""

from __future__ import annotations

import asyncio

from tests.support.bot import ADMIN, RunningBot, bot_settings
from tests.support.fake_slack import BOT_USER_ID, FakeSlack, text_of
from tests.support.sandbox import SandboxServer

CHANNEL = "C0NOBOT"


def without_the_bot(fake: FakeSlack) -> None:
    """A channel the admin is in and the bot is not (nobody has run /invite @Sync2Books there)."""
    fake.add_channel(CHANNEL, name="no-bot-here")
    fake.add_membership(ADMIN, CHANNEL)
    fake.remove_bot(CHANNEL)


def told_to_invite(fake: FakeSlack) -> list[dict[str, object]]:
    return [m for m in fake.messages(ADMIN) if "/invite @Sync2Books" in text_of(m)]


def registered(fake: FakeSlack) -> list[dict[str, object]]:
    return [m for m in fake.messages(CHANNEL) if "registered *Acme Ltd*" in text_of(m)]


async def test_register_where_the_bot_is_not_a_member_tells_the_admin_once_and_posts_when_invited(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str
) -> None:
    without_the_bot(fake_slack)
    settings = bot_settings(fake_slack, bot_database, sandbox.url)
    with RunningBot(settings, fake_slack) as bot:
        answer = await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        assert answer.status_code == 200
        (refused,) = await fake_slack.wait_for("chat.postMessage", where=lambda c: c.error == "not_in_channel")
        assert refused.params["channel"] == CHANNEL
        (dm,) = await fake_slack.wait_for(
            "chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN and c.error is None, timeout=10
        )
        assert f"I can't post in <#{CHANNEL}>" in text_of(dm.params)
        assert "Type `/invite @Sync2Books` there" in text_of(dm.params)
        await asyncio.sleep(1)
    assert registered(fake_slack) == []

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
    assert len(told_to_invite(fake_slack)) == 1


async def test_someone_else_joining_the_channel_changes_nothing(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str
) -> None:
    without_the_bot(fake_slack)
    with RunningBot(bot_settings(fake_slack, bot_database, sandbox.url), fake_slack) as bot:
        await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        await fake_slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN, timeout=10)
        event = {"type": "member_joined_channel", "user": "UMEMBER", "channel": CHANNEL}
        assert (await bot.sender.event(event, event_id="Ev0OTHER")).status_code == 200
        await asyncio.sleep(1.5)
        refused = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("channel") == CHANNEL]
        assert [c.error for c in refused] == ["not_in_channel"]  # not tried again: nobody invited the bot
    assert registered(fake_slack) == []
