"""The disconnect buttons, called as Bolt calls them with the click Slack sends."""

from __future__ import annotations

from types import SimpleNamespace
from unittest.mock import AsyncMock

from handlers.actions import cancel, disconnect
from tests.handlers.support import Ack, body_of, context_with, mocked_services
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import block_actions


def _click(action_id: str) -> dict[str, object]:
    return body_of(
        block_actions(user_id=ADMIN, action_id=action_id, value="conn-1", channel_id=CHANNEL, message_ts="1.000100")
    )


async def test_confirming_disconnects_and_replaces_the_question_with_what_was_done() -> None:
    services = mocked_services()
    services.connections.disconnect = AsyncMock(
        return_value=SimpleNamespace(company_name="Acme <Ltd>", software_name="Xero")
    )
    ack, respond = Ack(), AsyncMock()
    body = _click("disconnect_confirm")

    await disconnect(ack=ack, body=body, action=body["actions"][0], respond=respond, context=context_with(services))

    assert ack.answer == {}
    services.connections.disconnect.assert_awaited_once_with(ADMIN, CHANNEL, "conn-1")
    kwargs = respond.await_args.kwargs
    assert kwargs["replace_original"] is True and kwargs["response_type"] == "ephemeral"
    assert kwargs["text"] == "Disconnected Xero from Acme &lt;Ltd&gt;."


async def test_a_failure_after_the_ack_is_an_apology_not_a_traceback() -> None:
    services = mocked_services()
    services.connections.disconnect = AsyncMock(side_effect=RuntimeError("database on fire"))
    respond = AsyncMock()
    body = _click("disconnect_confirm")

    await disconnect(ack=Ack(), body=body, action=body["actions"][0], respond=respond, context=context_with(services))

    assert respond.await_args.kwargs["text"].startswith("Something went wrong on our side, and nothing was changed.")


async def test_cancel_deletes_the_question() -> None:
    respond = AsyncMock()
    await cancel(ack=Ack(), respond=respond)
    respond.assert_awaited_once_with(delete_original=True)
