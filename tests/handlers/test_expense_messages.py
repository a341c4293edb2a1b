"""The buttons on expense messages and the attach modal, called as Bolt calls them."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import pytest

from bot.services.expenses import ConnectionChoice, ExpenseContext
from bot.services.refusals import Refusal
from handlers.expense_messages import attach_submitted, fix_and_retry, receipt_attach, receipt_new_expense
from tests.handlers.support import Ack, body_of, context_with, mocked_client, mocked_services
from tests.support import block_kit
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import block_actions, view_submission

UNREADABLE = "Sync2Books could not read what Slack sent, so nothing was done. Please try again."


async def _click_fix_and_retry(services: Any, client: Any, respond: Any) -> dict[str, Any]:
    """Fix and retry clicked on the outcome of expense exp-1; answers the body Slack sent."""
    body = body_of(
        block_actions(user_id=ADMIN, action_id="fix_and_retry", value="exp-1", channel_id=CHANNEL, message_ts="1.1")
    )
    await fix_and_retry(
        ack=Ack(), body=body, action=body["actions"][0], client=client, respond=respond, context=context_with(services)
    )
    return body


async def test_fix_and_retry_opens_the_modal_filled_with_the_failed_expense() -> None:
    services = mocked_services()
    context = ExpenseContext(
        "comp-1",
        "Acme Ltd",
        CHANNEL,
        (ConnectionChoice("conn-xero", "Xero", "GBP"),),
        "conn-xero",
        ("Payment",),
        retry_of="exp-1",
    )
    services.expenses.start_fix = AsyncMock(return_value=(context, {"merchant": "Taxi <Co>", "lines": []}))
    client = mocked_client()
    body = await _click_fix_and_retry(services, client, AsyncMock())

    services.expenses.start_fix.assert_awaited_once_with("exp-1", ADMIN)
    view = client.views_open.await_args.kwargs["view"]
    assert client.views_open.await_args.kwargs["trigger_id"] == body["trigger_id"]
    assert view["title"]["text"] == "Fix and retry" and block_kit.view_errors(view) == []
    (merchant,) = [block for block in view["blocks"] if block.get("block_id") == "merchant"]
    assert merchant["element"]["initial_value"] == "Taxi <Co>"
    assert json.loads(view["private_metadata"])["retry_of"] == "exp-1"


async def test_fix_and_retry_of_someone_elses_expense_is_refused_to_the_clicker_alone() -> None:
    services = mocked_services()
    services.expenses.start_fix = AsyncMock(side_effect=Refusal("Only the person who submitted it can fix it."))
    respond, client = AsyncMock(), mocked_client()
    await _click_fix_and_retry(services, client, respond)

    client.views_open.assert_not_awaited()
    kwargs = respond.await_args.kwargs
    assert (kwargs["text"], kwargs["response_type"], kwargs["replace_original"]) == (
        "Only the person who submitted it can fix it.",
        "ephemeral",
        False,
    )


async def test_attach_offers_the_persons_recent_expenses() -> None:
    services = mocked_services()
    recent = SimpleNamespace(
        id="exp-1", merchant="Taxi", total="12.50", currency="GBP", created_at=datetime(2026, 12, 2, tzinfo=UTC)
    )
    services.expenses.recent_for = AsyncMock(return_value=[recent])
    client = mocked_client()
    body = body_of(
        block_actions(
            user_id=ADMIN, action_id="receipt_attach", value="F0RECEIPT", channel_id=CHANNEL, message_ts="1.2"
        )
    )

    await receipt_attach(ack=Ack(), body=body, action=body["actions"][0], client=client, context=context_with(services))

    view = client.views_open.await_args.kwargs["view"]
    assert json.loads(view["private_metadata"]) == {"file_id": "F0RECEIPT"}
    (choice,) = view["blocks"][0]["element"]["options"]
    assert (choice["text"]["text"], choice["value"]) == ("Taxi — 12.50 GBP — 2026-12-02", "exp-1")


async def test_an_attach_modal_without_its_file_is_refused_at_the_field() -> None:
    services = mocked_services()
    services.receipts.attach = AsyncMock()
    ack = Ack()
    chosen = {
        "type": "static_select",
        "selected_option": {"value": "exp-1", "text": {"type": "plain_text", "text": "x"}},
    }
    body = body_of(
        view_submission(
            user_id=ADMIN, callback_id="attach_receipt", values={"expense": {"value": chosen}}, private_metadata="{}"
        )
    )

    await attach_submitted(ack=ack, body=body, view=body["view"], context=context_with(services))

    assert ack.answer == {"response_action": "errors", "errors": {"expense": UNREADABLE}}
    services.receipts.attach.assert_not_awaited()


async def test_a_receipt_offer_refused_at_the_click_is_said_to_the_clicker_and_nothing_waits_for_a_reading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = mocked_services()
    services.expenses.start = AsyncMock(side_effect=Refusal("*Acme* has no connected accounting software yet."))
    services.receipts.draft_when_read = AsyncMock()
    respond, client = AsyncMock(), mocked_client()
    body = body_of(
        block_actions(user_id=ADMIN, action_id="receipt_new_expense", value="F0X", channel_id=CHANNEL, message_ts="1.1")
    )
    await receipt_new_expense(
        ack=Ack(), body=body, action=body["actions"][0], client=client, respond=respond, context=context_with(services)
    )

    client.views_open.assert_not_awaited()
    services.receipts.draft_when_read.assert_not_awaited()
    assert respond.await_args.kwargs["text"] == "*Acme* has no connected accounting software yet."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a refusal, not a failure
