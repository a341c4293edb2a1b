"""The expense surfaces: `/sync2books expense`, the New expense shortcut and Home button, the modal
(lines added in place, currency and connection changes), its options, its submission, and receipts."""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.backend import ContactType, ReferenceKind
from bot.services import Services
from bot.services.expense_form import FormErrors
from bot.services.expenses import ExpenseContext
from bot.services.refusals import Refusal, Unreadable
from handlers import blocks
from handlers.expense_state import (
    chosen_connection,
    chosen_currency,
    context_from_metadata,
    context_to_metadata,
    form_from_state,
    selected,
    uploaded_files,
    view_values,
)
from handlers.replies import answering, guarded

FIRST_FIELD = "type"
# Open modals whose newest version this process drew, by view id: enough for every modal open at once.
NEWEST_KEPT = 2000
# A click on an older version of a modal (Slack answers hash_conflict) is applied to the newest, this often.
REDRAW_ATTEMPTS = 3


def modal(
    context: ExpenseContext, currency: str | None = None, prefill: dict[str, Any] | None = None
) -> dict[str, Any]:
    return blocks.expense_modal(
        context_to_metadata(context), today=date.today().isoformat(), currency=currency, prefill=prefill
    )


async def open_modal(
    services: Services,
    client: AsyncWebClient,
    trigger_id: str,
    channel_id: str | None,
    user_id: str,
    reply: Any,
    receipt_file_ids: tuple[str, ...] = (),
) -> None:
    async with answering(reply, "opening the expense modal"):
        context = await services.expenses.start(channel_id, user_id, receipt_file_ids)
        await client.views_open(trigger_id=trigger_id, view=modal(context))


def register(app: AsyncApp, services: Services) -> None:
    @app.shortcut("new_expense")
    @guarded
    async def shortcut(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body["user"]["id"]
        await open_modal(services, client, body["trigger_id"], None, user, _dm_reply(client, user))

    @app.action(blocks.NEW_EXPENSE_BUTTON)
    @guarded
    async def home_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body["user"]["id"]
        await open_modal(services, client, body["trigger_id"], None, user, _dm_reply(client, user))

    newest: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def redraw(body: dict[str, Any], client: AsyncWebClient, change: Any) -> None:
        """Rebuild the open modal after a click inside it; Slack keeps what was typed in unchanged blocks.

        Two quick clicks (Add line twice) both come from the version the person saw; the second update then
        meets hash_conflict, and is made again on the newest version this process drew, so no click is lost.
        """
        view = body.get("view")
        if not isinstance(view, dict):
            return  # a click that claims to be in a modal but carries none: there is nothing to redraw
        values = view_values(view)
        user = body["user"]["id"]
        base: dict[str, Any] = view
        async with answering(_dm_reply(client, user), "redrawing the expense modal"):
            for _ in range(REDRAW_ATTEMPTS):
                claimed = change(context_from_metadata(base.get("private_metadata")), values)
                context = await services.expenses.trusted(claimed, user)
                try:
                    answer = await client.views_update(
                        view_id=view["id"], hash=base.get("hash"), view=modal(context, chosen_currency(values))
                    )
                except SlackApiError as exc:
                    newer = newest.get(str(view["id"]))
                    if exc.response.get("error") != "hash_conflict" or newer is None or newer is base:
                        raise
                    base = newer
                    continue
                newest[str(view["id"])] = answer["view"]
                newest.move_to_end(str(view["id"]))
                while len(newest) > NEWEST_KEPT:
                    newest.popitem(last=False)
                return

    @app.action(blocks.ADD_LINE)
    @guarded
    async def add_line(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await redraw(body, client, lambda c, _: dataclasses.replace(c, lines=min(c.lines + 1, blocks.MAX_MODAL_LINES)))

    @app.action(blocks.CHOOSE_CURRENCY)
    @guarded
    async def currency_changed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await redraw(body, client, lambda c, _: c)

    @app.action(blocks.CHOOSE_CONNECTION)
    @guarded
    async def connection_changed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await redraw(body, client, lambda c, values: dataclasses.replace(c, connection_id=chosen_connection(values)))

    @app.options({"action_id": blocks.OPTION_ACTIONS["contact"]})
    @guarded
    async def contact_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        connection_id = await _connection_of(services, body)
        query = str(body.get("value") or "")
        groups = []
        for label, kind, contact_type in (
            ("Suppliers", ReferenceKind.SUPPLIERS, ContactType.SUPPLIER),
            ("Customers", ReferenceKind.CUSTOMERS, ContactType.CUSTOMER),
        ):
            if contact_type.value not in services.expenses.contact_types:
                continue  # Codat names only suppliers as an expense's contact
            found = await services.reference.options(connection_id, kind, query) if connection_id else []
            if found:
                options = [blocks.option(item.name, f"{contact_type.value}:{item.id}") for item in found[:50]]  # type: ignore[attr-defined]
                groups.append({"label": blocks.plain(label), "options": options})
        await ack(option_groups=groups) if groups else await ack(options=[])

    for name, kind in (
        ("bank_account", ReferenceKind.BANK_ACCOUNTS),
        ("account", ReferenceKind.ACCOUNTS),
        ("tax_rate", ReferenceKind.TAX_RATES),
        ("tracking", ReferenceKind.TRACKING_CATEGORIES),
        ("invoice_to", ReferenceKind.CUSTOMERS),
    ):
        _register_options(app, services, blocks.OPTION_ACTIONS[name], kind)

    @app.view(blocks.EXPENSE_CALLBACK)
    @guarded
    async def submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = body["user"]["id"]
        values = view_values(view)
        try:
            context = await services.expenses.trusted(context_from_metadata(view.get("private_metadata")), user)
        except Refusal as refusal:
            await ack(response_action="errors", errors={_first_field(view): str(refusal)})
            return
        if context.connection_id is None:
            chosen = chosen_connection(values)
            if chosen is None:
                await ack(response_action="errors", errors={"connection": "Choose the accounting software."})
                return
            await ack(response_action="update", view=modal(dataclasses.replace(context, connection_id=chosen)))
            return
        form = form_from_state(values, context.lines)
        files = [*context.receipt_file_ids, *uploaded_files(values)]
        try:
            # Stored before the modal closes: from here on the expense cannot be lost.
            if context.retry_of:
                await services.expenses.resubmit(context, user, form)
            else:
                await services.expenses.submit(context, user, f"view:{view['id']}", form, files)
        except FormErrors as invalid:
            errors = dict(invalid.errors)
            if "lines" in errors:
                # Slack shows errors only next to input blocks: "lines" is said at the first line's account.
                said = errors.pop("lines")
                errors["line0_account"] = f"{said} {errors.get('line0_account', '')}".strip()
            await ack(response_action="errors", errors=_placed(errors, view))
            return
        except Refusal as refusal:
            await ack(response_action="errors", errors={_first_field(view): str(refusal)})
            return
        await ack()

    @app.action(blocks.FIX_AND_RETRY)
    @guarded
    async def fix_and_retry(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()

        async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
            await respond(text=text, blocks=message_blocks, response_type="ephemeral", replace_original=False)

        async with answering(reply, "opening Fix and retry"):
            context, prefill = await services.expenses.start_fix(_value_of(action), body["user"]["id"])
            await client.views_open(trigger_id=body["trigger_id"], view=modal(context, prefill=prefill))

    @app.action(blocks.RECEIPT_NEW_EXPENSE)
    @guarded
    async def receipt_new_expense(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user, channel = body["user"]["id"], body.get("channel", {}).get("id")

        async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
            await respond(text=text, blocks=message_blocks, response_type="ephemeral", replace_original=False)

        await open_modal(services, client, body["trigger_id"], channel, user, reply, (_value_of(action),))

    @app.action(blocks.RECEIPT_ATTACH)
    @guarded
    async def receipt_attach(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        recent = await services.expenses.recent_for(body["user"]["id"])
        choices = [
            {
                "expense_id": e.id,
                "merchant": e.merchant,
                "total": f"{e.total} {e.currency}",
                "date": e.created_at.date().isoformat(),
            }
            for e in recent
        ]
        await client.views_open(trigger_id=body["trigger_id"], view=blocks.attach_modal(_value_of(action), choices))

    @app.view(blocks.ATTACH_CALLBACK)
    @guarded
    async def attach_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        chosen = selected(view_values(view), "expense")
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
            file_id = metadata.get("file_id") if isinstance(metadata, dict) else None
            if not isinstance(file_id, str) or chosen is None:
                raise Unreadable()
            await services.receipts.attach(chosen, file_id, body["user"]["id"])
        except ValueError:
            await ack(response_action="errors", errors={"expense": str(Unreadable())})
            return
        except Refusal as refusal:
            await ack(response_action="errors", errors={"expense": str(refusal)})
            return
        await ack()


def _register_options(app: AsyncApp, services: Services, action_id: str, kind: ReferenceKind) -> None:
    async def answer(ack: AsyncAck, body: dict[str, Any]) -> None:
        connection_id = await _connection_of(services, body)
        found = (
            await services.reference.options(connection_id, kind, str(body.get("value") or "")) if connection_id else []
        )
        await ack(options=[blocks.option(_label(item), str(item.id)) for item in found])  # type: ignore[attr-defined]

    app.options({"action_id": action_id})(guarded(answer))


def _label(item: Any) -> str:
    code = getattr(item, "nominal_code", None) or getattr(item, "code", None)
    return f"{code} · {item.name}" if code else str(item.name)


async def _connection_of(services: Services, body: dict[str, Any]) -> str | None:
    """The connection whose reference data the modal asks for, if this person may see it."""
    view = body.get("view")
    metadata = view.get("private_metadata") if isinstance(view, dict) else None
    try:
        connection_id = json.loads(metadata or "{}").get("connection_id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(connection_id, str):
        return None
    return connection_id if await services.expenses.may_use_connection(body["user"]["id"], connection_id) else None


def _value_of(action: dict[str, Any]) -> str:
    value = action.get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 150:
        raise Unreadable()
    return value


# Where a field's error goes when the modal Slack submitted does not show that field (yet): the exchange rate is
# asked for once the currency changes, but a Submit can come before that redraw.
_SHOWN_BESIDE = {"currency_rate": "currency"}


def _placed(errors: dict[str, str], view: dict[str, Any]) -> dict[str, str]:
    """Errors keyed by input blocks the submitted view has: Slack refuses the whole answer (and shows the person
    none of it) if one names a block it does not show."""
    inputs = [
        str(block["block_id"])
        for block in view.get("blocks") or []
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("block_id"), str)
    ]
    if not inputs:
        return errors
    placed: dict[str, str] = {}
    for field, said in errors.items():
        target = field if field in inputs else _SHOWN_BESIDE.get(field, inputs[0])
        target = target if target in inputs else inputs[0]
        placed[target] = f"{placed[target]} {said}" if target in placed else said
    return placed


def _first_field(view: dict[str, Any]) -> str:
    """Where a refusal of the whole modal is shown: its first input (Slack shows errors only there)."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("block_id"), str):
            return str(block["block_id"])
    return FIRST_FIELD


def _dm_reply(client: AsyncWebClient, user: str) -> Any:
    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await client.chat_postMessage(channel=user, text=text, blocks=message_blocks)

    return reply
