"""The expense modal: opened from `/sync2books expense`, the New expense shortcut and the Home button, redrawn in
place (a line added, the currency or the connection changed), and submitted."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.services.expense_form import ExpenseInput, FormErrors
from bot.services.expenses import ExpenseContext
from bot.services.readings import ReceiptDraft
from bot.services.refusals import Refusal
from handlers.context import NewestViews, expense_modals_of, services_of
from handlers.replies import Reply, answering, guarded
from slack_ui import ids
from slack_ui.expense_modal import MAX_MODAL_LINES, expense_modal
from slack_ui.expense_state import (
    chosen_connection,
    chosen_currency,
    context_from_metadata,
    context_to_metadata,
    first_field,
    form_from_state,
    not_yet_typed,
    placed_errors,
    uploaded_files,
    view_values,
)

# A click on an older version of a modal (Slack answers hash_conflict) is applied to the newest, this often.
REDRAW_ATTEMPTS = 3


def register(app: AsyncApp) -> None:
    app.shortcut(ids.NEW_EXPENSE_SHORTCUT)(shortcut)
    app.action(ids.NEW_EXPENSE_BUTTON)(home_button)
    for action_id in CHANGES:
        app.action(action_id)(clicked_in_modal)
    app.view(ids.EXPENSE_CALLBACK)(submitted)


def modal(
    context: ExpenseContext,
    currency: str | None = None,
    prefill: dict[str, Any] | None = None,
    receipt: ReceiptDraft | None = None,
) -> dict[str, Any]:
    return expense_modal(
        context_to_metadata(context),
        today=date.today().isoformat(),
        currency=currency,
        prefill=prefill,
        receipt=dataclasses.asdict(receipt) if receipt is not None else None,
    )


async def open_modal(
    services: Services,
    client: AsyncWebClient,
    trigger_id: str,
    channel_id: str | None,
    user_id: str,
    reply: Reply,
    receipt_file_ids: tuple[str, ...] = (),
) -> None:
    async with answering(reply, "opening the expense modal"):
        context = await services.expenses.start(channel_id, user_id, receipt_file_ids)
        await client.views_open(trigger_id=trigger_id, view=modal(context))


def dm_reply(client: AsyncWebClient, user: str) -> Reply:
    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await client.chat_postMessage(channel=user, text=text, blocks=message_blocks)

    return reply


@guarded
async def shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]) -> None:
    await ack()
    user = body["user"]["id"]
    await open_modal(services_of(context), client, body["trigger_id"], None, user, dm_reply(client, user))


@guarded
async def home_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]) -> None:
    await ack()
    user = body["user"]["id"]
    await open_modal(services_of(context), client, body["trigger_id"], None, user, dm_reply(client, user))


# What a click changes: the context the modal claimed, and what was typed -> the context to draw.
Change = Callable[[ExpenseContext, dict[str, Any]], ExpenseContext]


def _one_more_line(claimed: ExpenseContext, values: dict[str, Any]) -> ExpenseContext:
    return dataclasses.replace(claimed, lines=min(claimed.lines + 1, MAX_MODAL_LINES))


def _as_it_is(claimed: ExpenseContext, values: dict[str, Any]) -> ExpenseContext:
    return claimed


def _connection_chosen(claimed: ExpenseContext, values: dict[str, Any]) -> ExpenseContext:
    return dataclasses.replace(claimed, connection_id=chosen_connection(values))


# Each click inside the modal, by action id, and what it changes before the modal is drawn again.
CHANGES: dict[str, Change] = {
    ids.ADD_LINE: _one_more_line,
    ids.CHOOSE_CURRENCY: _as_it_is,
    ids.CHOOSE_CONNECTION: _connection_chosen,
}


@guarded
async def clicked_in_modal(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    """Add line, or a new currency or connection chosen: the modal is drawn again around what was typed."""
    await ack()
    await redraw(body, client, context, CHANGES[str(action["action_id"])])


async def redraw(body: dict[str, Any], client: AsyncWebClient, context: dict[str, Any], change: Change) -> None:
    """Rebuild the open modal after a click inside it; Slack keeps what was typed in unchanged blocks.

    Two quick clicks (Add line twice) both come from the version the person saw; the second update then
    meets hash_conflict, and is made again on the newest version this process drew, so no click is lost.
    """
    view = body.get("view")
    if not isinstance(view, dict):
        return  # a click that claims to be in a modal but carries none: there is nothing to redraw
    services, newest = services_of(context), expense_modals_of(context)
    values = view_values(view)
    user = body["user"]["id"]

    async def drawn(base: dict[str, Any]) -> dict[str, Any]:
        claimed = change(context_from_metadata(base.get("private_metadata")), values)
        return modal(await services.expenses.trusted(claimed, user), chosen_currency(values))

    async with answering(dm_reply(client, user), "redrawing the expense modal"):
        await _update_newest(client, newest, str(view["id"]), view, drawn)


async def fill_in(
    opened: dict[str, Any], draft: ReceiptDraft, client: AsyncWebClient, context: dict[str, Any], user: str
) -> None:
    """A modal opened before its receipt was read, filled in now that it is: only the fields still empty.

    The newest version this process drew (a click meanwhile: Add line, another currency) is the one updated;
    what its state shows typed stays, and the fields Slack holds typed keep their text (same block ids).
    A modal closed or submitted meanwhile is left alone.
    """
    services, newest = services_of(context), expense_modals_of(context)
    today = date.today().isoformat()

    async def drawn(base: dict[str, Any]) -> dict[str, Any] | None:
        values = view_values(base)
        trusted = await services.expenses.trusted(context_from_metadata(base.get("private_metadata")), user)
        connection = trusted.connection
        if connection is None:
            return None  # the person is choosing the accounting software first: nothing to fill in yet
        prefill = not_yet_typed(draft.prefill(), values, today=today, base_currency=connection.base_currency)
        chosen = chosen_currency(values)
        currency = chosen if chosen not in (None, connection.base_currency) else None
        return modal(trusted, currency, prefill, draft)

    view_id = str(opened["id"])
    async with answering(dm_reply(client, user), "filling in the expense modal"):
        # Submitted, closed, or changed where this process did not see: theirs stands.
        await _update_newest(client, newest, view_id, newest.get(view_id) or opened, drawn, gone_is_fine=True)


async def _update_newest(
    client: AsyncWebClient,
    newest: NewestViews,
    view_id: str,
    base: dict[str, Any],
    drawn: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]],
    *,
    gone_is_fine: bool = False,
) -> None:
    """views.update of an open modal drawn from ``base``; a hash_conflict is made again on the newest version
    this process drew (a click meanwhile), so no change is lost. ``drawn`` answering None leaves it alone."""
    for _ in range(REDRAW_ATTEMPTS):
        view = await drawn(base)
        if view is None:
            return
        try:
            answer = await client.views_update(view_id=view_id, hash=base.get("hash"), view=view)
        except SlackApiError as exc:
            error = exc.response.get("error")
            newer = newest.get(view_id)
            if error == "hash_conflict" and newer is not None and newer is not base:
                base = newer
                continue
            if gone_is_fine and error in ("hash_conflict", "not_found", "view_not_found"):
                return
            raise
        newest.drew(view_id, answer["view"])
        return


@guarded
async def submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    services = services_of(context)
    user = body["user"]["id"]
    values = view_values(view)
    try:
        claimed = await services.expenses.trusted(context_from_metadata(view.get("private_metadata")), user)
    except Refusal as refusal:
        await ack(response_action="errors", errors={first_field(view): str(refusal)})
        return
    if claimed.connection_id is None:
        chosen = chosen_connection(values)
        if chosen is None:
            await ack(response_action="errors", errors={ids.CONNECTION: "Choose the accounting software."})
            return
        await ack(response_action="update", view=modal(dataclasses.replace(claimed, connection_id=chosen)))
        return
    try:
        # Stored before the modal closes: from here on the expense cannot be lost.
        await _submit(services, claimed, user, view, form_from_state(values, claimed.lines), uploaded_files(values))
    except FormErrors as invalid:
        await ack(response_action="errors", errors=placed_errors(invalid.errors, view))
        return
    except Refusal as refusal:
        await ack(response_action="errors", errors={first_field(view): str(refusal)})
        return
    await ack()


async def _submit(
    services: Services,
    claimed: ExpenseContext,
    user: str,
    view: dict[str, Any],
    form: ExpenseInput,
    uploaded: list[str],
) -> None:
    if claimed.retry_of:
        await services.expenses.resubmit(claimed, user, form)
    else:
        await services.expenses.submit(
            claimed, user, f"view:{view['id']}", form, [*claimed.receipt_file_ids, *uploaded]
        )
