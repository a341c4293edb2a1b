"""Buttons on the bot's expense messages: Fix and retry on an outcome, and the receipt offer's two (a new expense
from the receipt, or attach it to one), with the attach modal's submission."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.refusals import Refusal, Unreadable
from handlers.context import services_of
from handlers.expense_modal import fill_in, modal
from handlers.replies import Reply, answering, guarded
from slack_ui import ids
from slack_ui.expense_state import selected, view_values
from slack_ui.receipts import attach_modal


def register(app: AsyncApp) -> None:
    app.action(ids.FIX_AND_RETRY)(fix_and_retry)
    app.action(ids.RECEIPT_NEW_EXPENSE)(receipt_new_expense)
    app.action(ids.RECEIPT_ATTACH)(receipt_attach)
    app.view(ids.ATTACH_CALLBACK)(attach_submitted)


def _ephemeral(respond: AsyncRespond) -> Reply:
    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await respond(text=text, blocks=message_blocks, response_type="ephemeral", replace_original=False)

    return reply


@guarded
async def fix_and_retry(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: dict[str, Any],
) -> None:
    await ack()
    async with answering(_ephemeral(respond), "opening Fix and retry"):
        claimed, prefill = await services_of(context).expenses.start_fix(_value_of(action), body["user"]["id"])
        await client.views_open(trigger_id=body["trigger_id"], view=modal(claimed, prefill=prefill))


@guarded
async def receipt_new_expense(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: dict[str, Any],
) -> None:
    """The modal opens at once with what was read (from the database); a file still being read fills it later."""
    await ack()
    user, channel, file_id = body["user"]["id"], body.get("channel", {}).get("id"), _value_of(action)
    services = services_of(context)
    opened = None
    async with answering(_ephemeral(respond), "opening the expense modal"):
        claimed = await services.expenses.start(channel, user, (file_id,))
        draft = await services.receipts.draft_now(file_id, claimed)
        view = modal(claimed, None, draft.prefill(), draft)
        opened = await client.views_open(trigger_id=body["trigger_id"], view=view)
    if opened is None or draft.state != "reading":
        return  # refused (said to the person), or read already
    # The trigger is spent: the reading under way (run off the event loop) is waited for, then put in.
    read = await services.receipts.draft_when_read(file_id, claimed, draft.file_name)
    await fill_in(opened["view"], read, client, context, user)


@guarded
async def receipt_attach(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    recent = await services_of(context).expenses.recent_for(body["user"]["id"])
    choices = [
        {
            "expense_id": e.id,
            "merchant": e.merchant,
            "total": f"{e.total} {e.currency}",
            "date": e.created_at.date().isoformat(),
        }
        for e in recent
    ]
    await client.views_open(trigger_id=body["trigger_id"], view=attach_modal(_value_of(action), choices))


@guarded
async def attach_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], context: dict[str, Any]) -> None:
    chosen = selected(view_values(view), ids.ATTACH_EXPENSE)
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
        file_id = metadata.get("file_id") if isinstance(metadata, dict) else None
        if not isinstance(file_id, str) or chosen is None:
            raise Unreadable()
        await services_of(context).receipts.attach(chosen, file_id, body["user"]["id"])
    except ValueError:
        await ack(response_action="errors", errors={ids.ATTACH_EXPENSE: str(Unreadable())})
        return
    except Refusal as refusal:
        await ack(response_action="errors", errors={ids.ATTACH_EXPENSE: str(refusal)})
        return
    await ack()


def _value_of(action: dict[str, Any]) -> str:
    value = action.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 150:
        raise Unreadable()
    return value
