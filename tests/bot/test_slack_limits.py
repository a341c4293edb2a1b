"""Realistic extremes the bot meets, sent to a fake Slack that refuses what Slack refuses: every one is posted or
published, shortened with "…" and capped with "…and N more", never dropped as ``invalid_blocks``."""

from __future__ import annotations

from tests.support.bot import ADMIN, RunningBot
from tests.support.fake_slack import FakeSlack, text_of

COMPANIES = 40


async def test_forty_linked_companies_publish_a_home_tab(bot: RunningBot, fake_slack: FakeSlack) -> None:
    for number in range(COMPANIES):
        channel = f"C0LOTS{number:02d}"
        fake_slack.add_channel(channel, name=f"books-{number}")
        fake_slack.add_membership(ADMIN, channel)
        answer = await bot.sender.command(
            f"register Company {number:02d} & Sons Holdings Limited", user_id=ADMIN, channel_id=channel
        )
        assert answer.status_code == 200
        await fake_slack.wait_for("chat.postMessage", count=number + 1, timeout=10)

    await bot.sender.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, event_id="Ev0LOTS")
    (published,) = await fake_slack.wait_for("views.publish", timeout=10)
    assert published.error is None
    home = fake_slack.home(ADMIN)
    assert home is not None and len(home["blocks"]) <= 100
    shown = text_of(home)
    assert "Company 00 & Sons Holdings Limited" in shown
    assert "…and " in shown and "more compan" in shown
    assert "New expense" in shown  # the button is never the one cut
