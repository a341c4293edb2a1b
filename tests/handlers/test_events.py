"""Events, called as Bolt calls them with the envelope Slack posts."""

from __future__ import annotations

from unittest.mock import AsyncMock

from handlers.events import member_joined, message
from tests.handlers.support import body_of, context_with, mocked_services
from tests.support.bot import ADMIN, CHANNEL
from tests.support.fake_slack import BOT_USER_ID
from tests.support.slack_requests import event_callback


async def test_the_bot_invited_to_a_channel_sends_what_it_owes_there() -> None:
    services = mocked_services()
    services.membership.bot_joined = AsyncMock()
    body = body_of(event_callback({"type": "member_joined_channel", "user": BOT_USER_ID, "channel": CHANNEL}))

    await member_joined(event=body["event"], context=context_with(services))

    services.membership.bot_joined.assert_awaited_once_with(CHANNEL)


async def test_someone_else_joining_changes_nothing() -> None:
    services = mocked_services()
    services.membership.bot_joined = AsyncMock()
    body = body_of(event_callback({"type": "member_joined_channel", "user": ADMIN, "channel": CHANNEL}))

    await member_joined(event=body["event"], context=context_with(services))

    services.membership.bot_joined.assert_not_awaited()


async def test_files_posted_are_offered_as_receipts_once_per_delivery() -> None:
    services = mocked_services()
    services.deliveries.first_time = AsyncMock(side_effect=[True, False])
    services.receipts.on_files_posted = AsyncMock()
    event = {"type": "message", "user": ADMIN, "channel": CHANNEL, "ts": "1.000200", "files": [{"id": "F0RECEIPT"}]}
    body = body_of(event_callback(event, event_id="Ev0FILES"))

    for _ in range(2):  # Slack redelivers the same event_id
        await message(body=body, event=body["event"], context=context_with(services))

    services.receipts.on_files_posted.assert_awaited_once_with(CHANNEL, ADMIN, "1.000200", None, ["F0RECEIPT"])
    assert services.deliveries.first_time.await_args.args == ("event:Ev0FILES",)
