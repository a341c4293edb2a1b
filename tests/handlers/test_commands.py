"""``/sync2books`` called as Bolt calls it: the subcommand goes to its service, the answer is ephemeral."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock

from bot.services.refusals import Refusal
from handlers.commands import sync2books
from tests.handlers.support import Ack, body_of, context_with, mocked_client, mocked_services
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import slash_command


async def test_disconnect_asks_first_with_the_connections_name() -> None:
    services = mocked_services()
    services.connections.prepare_disconnect = AsyncMock(
        return_value=SimpleNamespace(company_name="Acme Ltd", software_name="Xero", connection_id="conn-1")
    )
    ack, respond = Ack(), AsyncMock()
    command = body_of(slash_command("disconnect xero", user_id=ADMIN, channel_id=CHANNEL))

    await sync2books(ack=ack, command=command, respond=respond, client=mocked_client(), context=context_with(services))

    assert ack.answer == {}
    services.connections.prepare_disconnect.assert_awaited_once_with(ADMIN, CHANNEL, "xero")
    (call,) = respond.await_args_list
    assert call.kwargs["response_type"] == "ephemeral"
    assert call.kwargs["text"] == "Disconnect Xero from Acme Ltd?"
    (button, _) = call.kwargs["blocks"][1]["elements"]
    assert (button["action_id"], button["value"]) == ("disconnect_confirm", "conn-1")


async def test_a_refusal_is_said_to_the_person_in_plain_words() -> None:
    services = mocked_services()
    services.connections.list = AsyncMock(side_effect=Refusal("This channel is not linked to a company yet."))
    ack, respond = Ack(), AsyncMock()
    command = body_of(slash_command("connections", user_id=ADMIN, channel_id=CHANNEL))

    await sync2books(ack=ack, command=command, respond=respond, client=mocked_client(), context=context_with(services))

    assert respond.await_args.kwargs["text"] == "This channel is not linked to a company yet."


async def test_an_unknown_subcommand_answers_the_command_list() -> None:
    services = mocked_services()
    services.connections.software_names = lambda: "Xero, QuickBooks Online"
    respond = AsyncMock()
    command = body_of(slash_command("frobnicate", user_id=ADMIN, channel_id=CHANNEL))

    await sync2books(
        ack=Ack(), command=command, respond=respond, client=mocked_client(), context=context_with(services)
    )

    text = respond.await_args.kwargs["text"]
    assert text.startswith("Sync2Books for Slack: what you can ask") and "Xero, QuickBooks Online" in text
