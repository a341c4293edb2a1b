"""The expense modal's listeners, called as Bolt calls them: a click redraws it, a submission is checked."""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest.mock import AsyncMock

from slack_sdk.errors import SlackApiError

from bot.services.expense_form import FormErrors
from bot.services.expenses import ConnectionChoice, ExpenseContext
from handlers.expense_modal import clicked_in_modal, modal, submitted
from tests.handlers.support import Ack, body_of, context_with, mocked_client, mocked_services
from tests.support import block_kit
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import block_actions, view_submission

XERO = ConnectionChoice("conn-xero", "Xero", "GBP")
QBO = ConnectionChoice("conn-qbo", "QuickBooks Online", "USD")


def _context(**changes: Any) -> ExpenseContext:
    fields: dict[str, Any] = {
        "company_id": "comp-1",
        "company_name": "Acme Ltd",
        "channel_id": CHANNEL,
        "connections": (XERO,),
        "connection_id": XERO.id,
        "expense_types": ("Payment", "DirectCost"),
        **changes,
    }
    return ExpenseContext(**fields)


def _trusted(claimed: ExpenseContext, user: str) -> ExpenseContext:
    """What the service answers for a claim: the metadata carries only ids, the rest is read again."""
    return dataclasses.replace(_context(), lines=claimed.lines, connection_id=claimed.connection_id)


def _opened(context: ExpenseContext) -> dict[str, Any]:
    """The modal as Slack holds it once opened: what the bot drew, with Slack's id and hash."""
    return {**modal(context), "id": "V0MODAL", "hash": "1.first", "state": {"values": {}}}


def _hash_conflict() -> SlackApiError:
    """What slack_sdk raises when views.update names a hash that is no longer the view's."""
    return SlackApiError("The request to the Slack API failed.", {"ok": False, "error": "hash_conflict"})


async def test_add_line_redraws_the_modal_with_the_next_line() -> None:
    services = mocked_services()
    services.expenses.trusted = AsyncMock(side_effect=_trusted)
    client = mocked_client()
    client.views_update = AsyncMock(side_effect=lambda **kwargs: {"view": {**kwargs["view"], "hash": "2.second"}})
    body = body_of(block_actions(user_id=ADMIN, action_id="expense_add_line", view=_opened(_context())))

    await clicked_in_modal(
        ack=Ack(), body=body, action=body["actions"][0], client=client, context=context_with(services)
    )

    drawn = client.views_update.await_args.kwargs
    assert (drawn["view_id"], drawn["hash"]) == ("V0MODAL", "1.first")
    block_ids = [block.get("block_id") for block in drawn["view"]["blocks"]]
    assert "line0_account" in block_ids and "line1_account" in block_ids and "line2_account" not in block_ids
    assert block_kit.view_errors(drawn["view"]) == []


async def test_a_second_click_on_the_older_version_is_applied_to_the_newest() -> None:
    services = mocked_services()
    services.expenses.trusted = AsyncMock(side_effect=_trusted)
    client = mocked_client()
    answers: list[Any] = []

    async def views_update(**kwargs: Any) -> dict[str, Any]:
        if kwargs["hash"] == "1.first" and answers:
            raise _hash_conflict()
        answers.append(kwargs)
        return {"view": {**kwargs["view"], "id": "V0MODAL", "hash": f"{len(answers) + 1}.next"}}

    client.views_update = views_update
    context = context_with(services)
    body = body_of(block_actions(user_id=ADMIN, action_id="expense_add_line", view=_opened(_context())))

    for _ in range(2):  # both clicks come from the version the person saw
        await clicked_in_modal(ack=Ack(), body=body, action=body["actions"][0], client=client, context=context)

    assert [answer["hash"] for answer in answers] == ["1.first", "2.next"]
    last_lines = {b.get("block_id") for b in answers[-1]["view"]["blocks"]} & {"line1_account", "line2_account"}
    assert last_lines == {"line1_account", "line2_account"}


async def test_submitting_before_choosing_the_software_asks_for_it_at_its_field() -> None:
    services = mocked_services()
    context = _context(connections=(XERO, QBO), connection_id=None)
    services.expenses.trusted = AsyncMock(return_value=context)
    ack = Ack()
    body = body_of(view_submission(user_id=ADMIN, callback_id="expense", values={}, view=_opened(context)))

    await submitted(ack=ack, body=body, view=body["view"], client=mocked_client(), context=context_with(services))

    assert ack.answer == {"response_action": "errors", "errors": {"connection": "Choose the accounting software."}}


async def test_a_form_error_about_the_lines_is_said_at_the_first_lines_account() -> None:
    services = mocked_services()
    services.expenses.trusted = AsyncMock(return_value=_context())
    services.expenses.submit = AsyncMock(
        side_effect=FormErrors({"lines": "Add at least one line.", "line0_account": "Choose an account."})
    )
    ack = Ack()
    body = body_of(view_submission(user_id=ADMIN, callback_id="expense", values={}, view=_opened(_context())))

    await submitted(ack=ack, body=body, view=body["view"], client=mocked_client(), context=context_with(services))

    assert ack.answer == {
        "response_action": "errors",
        "errors": {"line0_account": "Add at least one line. Choose an account."},
    }
    assert services.expenses.submit.await_args.args[2] == f"view:{body['view']['id']}"
