"""Who may do what, and what the bot says when it will not: always ephemeral, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from apiclient.retry import path_segment
from bot.backend import KeyRefused
from bot.codat_backend import CodatBackend
from bot.services.refusals import backend_trouble
from bot.sync2books_backend import Sync2BooksBackend
from tests.support.bot import ADMIN, CHANNEL, MEMBER, OTHER_CHANNEL, RunningBot
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient


async def reply_to(
    bot: RunningBot, fake: FakeSlack, text: str, *, user: str = ADMIN, channel: str = CHANNEL, wait: float = 5.0
) -> str:
    sent = await bot.sender.command(text, user_id=user, channel_id=channel)
    assert sent.status_code == 200
    (answer,) = await fake.wait_for_responses(sent.response_key, timeout=wait)
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    return text_of(answer)


async def registered(bot: RunningBot, fake: FakeSlack, name: str = "Acme Ltd", channel: str = CHANNEL) -> None:
    posted = len(fake.calls_to("chat.postMessage"))
    await bot.sender.command(f"register {name}", user_id=ADMIN, channel_id=channel)
    await fake.wait_for("chat.postMessage", count=posted + 1)


@pytest.mark.parametrize(
    ("text", "doing"),
    [
        ("register Sneaky Ltd", "register a company"),
        ("link 77921ff9-2491-4dfe-b23b-ff28f3e31e4f", "link a channel to a company"),
    ],
)
async def test_a_member_cannot_register_or_link(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, text: str, doing: str
) -> None:
    answer = await reply_to(bot, fake_slack, text, user=MEMBER)
    assert f"Only workspace admins and owners (or people listed in ADMIN_USER_IDS) can {doing}" in answer
    assert (await client.list_companies()).total == 0
    assert fake_slack.calls_to("chat.postMessage") == []


@pytest.mark.parametrize(
    ("text", "doing"),
    [
        ("connect xero", "connect accounting software"),
        ("disconnect xero", "disconnect accounting software"),
    ],
)
async def test_a_member_cannot_connect_or_disconnect(
    bot: RunningBot, fake_slack: FakeSlack, text: str, doing: str
) -> None:
    await registered(bot, fake_slack)
    answer = await reply_to(bot, fake_slack, text, user=MEMBER)
    assert f"can {doing}" in answer
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # only the registration


async def test_admin_user_ids_make_an_admin(
    fake_slack: FakeSlack, sandbox: object, bot_database: str, client: SandboxClient
) -> None:
    from tests.support.bot import bot_settings

    assert isinstance(sandbox, SandboxServer)
    settings = bot_settings(fake_slack, bot_database, sandbox.url, admin_user_ids=f"U0NOBODY,{MEMBER}")
    with RunningBot(settings, fake_slack) as bot:
        await bot.sender.command("register Member Co", user_id=MEMBER, channel_id=CHANNEL)
        await fake_slack.wait_for("chat.postMessage")
    assert [c.name for c in (await client.list_companies()).results] == ["Member Co"]


async def test_an_already_linked_channel_names_its_company(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await registered(bot, fake_slack)
    (company,) = (await client.list_companies()).results
    answer = await reply_to(bot, fake_slack, "register Second Ltd")
    assert f"This channel is already linked to *Acme Ltd* (`{company.id}`)" in answer
    answer = await reply_to(bot, fake_slack, f"link {company.id}")
    assert "already linked to *Acme Ltd*" in answer
    assert (await client.list_companies()).total == 1


async def test_an_unknown_software_lists_the_valid_ones(bot: RunningBot, fake_slack: FakeSlack) -> None:
    await registered(bot, fake_slack)
    answer = await reply_to(bot, fake_slack, "connect FreshBooks")
    assert "I don't know the software “FreshBooks”" in answer
    for name in ("quickbooks (or qbo)", "quickbooks-desktop (or qbd)", "xero", "sage"):
        assert name in answer
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("text", ["connect", "connect xero", "connections", "disconnect xero"])
async def test_an_unlinked_channel_is_told_to_register_first(bot: RunningBot, fake_slack: FakeSlack, text: str) -> None:
    for user in (ADMIN, MEMBER):
        answer = await reply_to(bot, fake_slack, text, user=user, channel=OTHER_CHANNEL)
        assert "This channel is not linked to a company yet" in answer
        assert "/sync2books register <company name>" in answer


@pytest.mark.parametrize("text", ["", "help", "frobnicate", "HELP me"])
async def test_help_and_unknown_words_show_every_subcommand(bot: RunningBot, fake_slack: FakeSlack, text: str) -> None:
    answer = await reply_to(bot, fake_slack, text, user=MEMBER, channel=OTHER_CHANNEL)
    for subcommand in (
        "register <company name>",
        "link <company id>",
        "connect [software]",
        "connections",
        "disconnect",
    ):
        assert f"/sync2books {subcommand}" in answer


@pytest.mark.parametrize("signature", ["bad", "stale"])
async def test_a_request_with_a_bad_or_stale_signature_is_refused_without_effect(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, signature: str
) -> None:
    sent = await bot.sender.command("register Forged Ltd", user_id=ADMIN, channel_id=CHANNEL, signature=signature)  # type: ignore[arg-type]
    assert sent.status_code == 401
    event = await bot.sender.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, signature=signature)  # type: ignore[arg-type]
    assert event.status_code == 401
    unsigned = await bot.sender.send(
        b"command=%2Fsync2books&text=help",
        "application/x-www-form-urlencoded",
        headers={"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""},
    )
    assert unsigned.status_code == 401
    assert (await client.list_companies()).total == 0
    assert [call.method for call in fake_slack.calls] == ["auth.test"]  # the start's own; not even users.info


async def test_a_company_name_that_is_too_long_is_refused_plainly(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    answer = await reply_to(bot, fake_slack, "register " + "x" * 101)
    assert "A company name can have at most 100 characters (this one has 101)." in answer
    assert (await client.list_companies()).total == 0


async def test_linking_an_unknown_company_says_so(bot: RunningBot, fake_slack: FakeSlack) -> None:
    answer = await reply_to(bot, fake_slack, "link 00000000-0000-4000-8000-000000000000")
    assert "Sync2Books does not know that company" in answer


async def test_the_sandbox_being_down_is_said_plainly(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await registered(bot, fake_slack)
    await client.configure_sandbox(error_rate=1.0)
    # The client retries four times with backoff before the bot gives up and says so: up to ~8 s.
    answer = await reply_to(bot, fake_slack, "connections", user=MEMBER, wait=20)
    await client.configure_sandbox(error_rate=0.0)
    assert "Sync2Books could not be reached while listing the connections. Nothing was changed" in answer


async def test_link_refuses_what_is_not_a_company_id_before_asking_the_api(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    answer = await reply_to(bot, fake_slack, "link ../sandbox/settings")
    assert "“../sandbox/settings” is not a company id" in answer


def test_every_id_in_a_sync2books_path_is_one_segment() -> None:
    assert path_segment("../sandbox/settings") == "..%2Fsandbox%2Fsettings"
    with pytest.raises(ValueError, match="names no resource"):
        path_segment("")


@pytest.mark.parametrize(
    ("backend", "variable"), [(Sync2BooksBackend, "SYNC2BOOKS_API_KEY"), (CodatBackend, "CODAT_API_KEY")]
)
def test_a_refused_key_names_the_running_backends_variable(backend: Any, variable: str) -> None:
    refused = backend_trouble(KeyRefused("bad key", status=401, code="unauthorized"), backend, "listing")
    assert str(refused) == f"{backend.name} refused the bot's API key. An admin should check {variable}."
