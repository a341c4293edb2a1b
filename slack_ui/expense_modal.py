"""The expense modal: built from the context the service answers, prefilled for Fix and retry, carrying its
claim in private_metadata. Block ids stay stable across updates, so Slack keeps what was typed."""

from __future__ import annotations

import json
from typing import Any

from bot.services.expenses import MAX_LINES
from slack_ui import ids
from slack_ui.ids import line_field
from slack_ui.kit import Block, View, context, external_select, input_block, option, plain
from slack_ui.receipts import receipt_notes
from slack_ui.text import MAX_OPTIONS, NAME, OPTION_TEXT, VIEW_BLOCKS, escape, shorten

MAX_MODAL_LINES = MAX_LINES
# Offered in the currency menu after the connection's own; any ISO code can still be typed in the API.
COMMON_CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "NZD",
    "CHF",
    "JPY",
    "CNY",
    "HKD",
    "SGD",
    "INR",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "ZAR",
    "MXN",
    "BRL",
    "AED",
    "SAR",
    "BHD",
    "KWD",
    "OMR",
    "KRW",
    "ILS",
    "TRY",
    "THB",
)
TYPE_LABELS = {
    "Payment": "Payment",
    "DirectCost": "Direct cost",
    "Refund": "Refund",
    "Reward": "Reward",
    "Chargeback": "Chargeback",
}


def expense_modal(
    context: dict[str, Any],
    *,
    today: str,
    currency: str | None = None,
    prefill: dict[str, Any] | None = None,
    receipt: dict[str, Any] | None = None,
) -> View:
    """The expense modal. ``context`` travels in private_metadata; block ids stay stable across updates,
    so Slack keeps what was typed when a line is added or the currency changes. ``prefill`` (Fix and
    retry, or what was read from a receipt) puts values in as initial values; ``receipt`` (file_name, state,
    problem, duplicate) says above the fields what was read from which file."""
    lead = receipt_notes(receipt) if receipt is not None else []
    view = _expense_modal(context, today=today, currency=currency or (prefill or {}).get("currency"), lead=lead)
    if prefill:
        _prefill(view["blocks"], prefill)
        if receipt is None:
            view["title"] = plain("Fix and retry")
    return view


# Where each of a failed expense's values goes back in (Fix and retry): field -> the prefill's key.
_PREFILLED = {
    ids.TYPE: "type",
    ids.ISSUE_DATE: "issue_date",
    ids.CURRENCY: "currency",
    ids.CURRENCY_RATE: "currency_rate",
    ids.MERCHANT: "merchant",
    ids.CONTACT: "contact",
    ids.BANK_ACCOUNT: "bank_account",
    ids.NOTES: "notes",
    ids.POST_AS_DRAFT: "draft",
}


def _prefill(blocks: list[Block], prefill: dict[str, Any]) -> None:
    values: dict[str, Any] = {field: prefill.get(key) for field, key in _PREFILLED.items()}
    for index, line in enumerate(prefill.get("lines", [])):
        for field in ids.LINE_FIELDS:
            values[line_field(index, field)] = line.get(field)
    for block in blocks:
        value = values.get(block.get("block_id", ""))
        if value not in (None, "", []):
            _put_initial(block["element"], value)


def _put_initial(element: dict[str, Any], value: Any) -> None:
    kind = element["type"]
    if kind == "plain_text_input":
        element["initial_value"] = str(value)
    elif kind == "datepicker":
        element["initial_date"] = value
    elif kind == "static_select":
        match = next((o for o in element["options"] if o["value"] == value), None)
        if match:
            element["initial_option"] = match
    elif kind == "external_select":
        element["initial_option"] = option(value[1], value[0])
    elif kind == "multi_external_select":
        element["initial_options"] = [option(name, item_id) for item_id, name in value]
    elif kind == "checkboxes" and value is True:
        element["initial_options"] = element["options"][:1]


def _expense_modal(
    meta: dict[str, Any], *, today: str, currency: str | None = None, lead: list[Block] | None = None
) -> View:
    connections = meta["connections"]
    chosen = next((c for c in connections if c["id"] == meta.get("connection_id")), None)
    blocks: list[Block] = [*(lead or []), *_connection_choice(connections, chosen)]
    if chosen is None:
        blocks.append(
            context(
                f"*{escape(meta['company_name'], NAME)}* has several connected accounting packages: choose "
                "the one this expense goes to."
            )
        )
        return _modal(blocks, meta, submit="Next")
    base = str(chosen["base_currency"])
    # Only a currency the menu offers can be its initial option (a receipt may print any code).
    blocks += _head_fields(meta, base, currency if currency and currency in (base, *COMMON_CURRENCIES) else base, today)
    lines = meta.get("lines", 1)
    after: list[Block] = []
    if lines < MAX_MODAL_LINES:
        after.append(
            {
                "type": "actions",
                "block_id": ids.LINES_ACTIONS_BLOCK,
                "elements": [{"type": "button", "action_id": ids.ADD_LINE, "text": plain("Add line")}],
            }
        )
    # Fix and retry of an expense with more lines than a modal holds: the first ones that fit are shown, the
    # rest are said to be sent again as they were (the service keeps them), and the metadata says how many.
    fits = (VIEW_BLOCKS - len(blocks) - len(after) - _MODAL_TAIL_BLOCKS - 1) // len(_line_blocks(0))
    shown = min(lines, fits)
    for index in range(shown):
        blocks += _line_blocks(index)
    if shown < lines:
        blocks.append(
            context(
                f"Lines {shown + 1}–{lines} of this expense are not shown (a Slack form holds {shown}): "
                "they are sent again as they were."
            )
        )
        meta = {**meta, "lines": shown}
    blocks += after
    blocks += _tail_fields(len(meta.get("receipt_file_ids") or ()))
    return _modal(blocks, meta, submit="Submit")


def _connection_choice(connections: list[dict[str, Any]], chosen: dict[str, Any] | None) -> list[Block]:
    """The accounting software menu, when the company has more than one connected."""
    if len(connections) <= 1:
        return []
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.CHOOSE_CONNECTION,
        "options": [option(c["name"], c["id"]) for c in connections[:MAX_OPTIONS]],
        "placeholder": plain("Choose the accounting software"),
    }
    if chosen:
        element["initial_option"] = option(chosen["name"], chosen["id"])
    return [input_block(ids.CONNECTION, "Accounting software", element, dispatch=True)]


def _head_fields(meta: dict[str, Any], base: str, currency: str, today: str) -> list[Block]:
    """What the whole expense has, before its lines: type, date, currency (and rate), merchant, contact, bank."""
    types = [option(TYPE_LABELS.get(t, t), t) for t in meta["expense_types"]]
    currencies = [option(code, code) for code in dict.fromkeys((base, *COMMON_CURRENCIES))]
    blocks = [
        input_block(
            ids.TYPE,
            "Type",
            {"type": "static_select", "action_id": ids.VALUE, "options": types, "initial_option": types[0]},
        ),
        input_block(ids.ISSUE_DATE, "Date", {"type": "datepicker", "action_id": ids.VALUE, "initial_date": today}),
        input_block(
            ids.CURRENCY,
            "Currency",
            {
                "type": "static_select",
                "action_id": ids.CHOOSE_CURRENCY,
                "options": currencies,
                "initial_option": option(currency, currency),
            },
            dispatch=True,
        ),
    ]
    if currency != base:
        blocks.append(
            input_block(
                ids.CURRENCY_RATE,
                f"Exchange rate, {currency} to {base}",
                {
                    "type": "plain_text_input",
                    "action_id": ids.VALUE,
                    "placeholder": plain(f"1 {currency} = how many {base}"),
                },
            )
        )
    bank = meta.get("bank_account")
    blocks += [
        input_block(
            ids.MERCHANT,
            "Merchant",
            {"type": "plain_text_input", "action_id": ids.VALUE, "max_length": 100},
            optional=True,
        ),
        input_block(
            ids.CONTACT,
            "Supplier" if meta.get("contact_types") == ["Supplier"] else "Supplier or customer",
            external_select(ids.OPTION_ACTIONS[ids.CONTACT], "Search"),
            optional=True,
        ),
        input_block(
            ids.BANK_ACCOUNT,
            "Paid from",
            external_select(ids.OPTION_ACTIONS[ids.BANK_ACCOUNT], "Bank account", tuple(bank) if bank else None),
            optional=True,
            hint=None if bank else "Leave empty to use the company's default.",
        ),
    ]
    return blocks


# Notes, Draft, the receipts context and the file input: what the modal has after its lines and "Add line".
_MODAL_TAIL_BLOCKS = 4


def _tail_fields(receipts_from_slack: int) -> list[Block]:
    """What comes after the lines: notes, draft, the receipts already attached from Slack, and the file input."""
    blocks = [
        input_block(
            ids.NOTES,
            "Notes",
            {"type": "plain_text_input", "action_id": ids.VALUE, "multiline": True, "max_length": 2000},
            optional=True,
        ),
        input_block(
            ids.POST_AS_DRAFT,
            "Draft",
            {
                "type": "checkboxes",
                "action_id": ids.VALUE,
                "options": [option("Post as a draft in the accounting software", "draft")],
            },
            optional=True,
        ),
    ]
    if receipts_from_slack:
        blocks.append(context(f":paperclip: {receipts_from_slack} receipt(s) from Slack attached."))
    blocks.append(
        input_block(
            ids.RECEIPTS,
            "Receipts",
            {
                "type": "file_input",
                "action_id": ids.VALUE,
                "max_files": 10,
                "filetypes": ["pdf", "jpg", "jpeg", "png", "gif", "heic", "tif", "tiff", "webp"],
            },
            optional=True,
        )
    )
    return blocks


def _line_blocks(index: int) -> list[Block]:
    amount = {"type": "plain_text_input", "action_id": ids.VALUE}

    def field(name: str) -> str:
        return line_field(index, name)

    return [
        context(f"*Line {index + 1}*"),
        input_block(field(ids.ACCOUNT), "Account", external_select(ids.OPTION_ACTIONS[ids.ACCOUNT], "Search accounts")),
        input_block(
            field(ids.TAX_RATE), "Tax rate", external_select(ids.OPTION_ACTIONS[ids.TAX_RATE], "Search tax rates")
        ),
        input_block(field(ids.NET), "Net amount", {**amount, "placeholder": plain("1,234.50")}),
        input_block(field(ids.TAX), "Tax amount", {**amount, "placeholder": plain("0.00")}),
        input_block(
            field(ids.TRACKING),
            "Tracking",
            external_select(ids.OPTION_ACTIONS[ids.TRACKING], "Categories", multi=True),
            optional=True,
        ),
        input_block(
            field(ids.INVOICE_TO),
            "Bill to customer",
            external_select(ids.OPTION_ACTIONS[ids.INVOICE_TO], "Customer"),
            optional=True,
        ),
    ]


# What the expense modal's private_metadata carries: the claim the service checks again, never names to show
# (the service reads those again), so it stays far below Slack's 3,000 characters whatever the names are.
CLAIM_KEYS = ("company_id", "channel_id", "connection_id", "bank_account", "receipt_file_ids", "lines", "retry_of")


def _claim(context: dict[str, Any]) -> str:
    claim = {key: context[key] for key in CLAIM_KEYS if context.get(key) is not None}
    if claim.get("bank_account"):
        bank_id, name = claim["bank_account"]
        claim["bank_account"] = [bank_id, shorten(name, OPTION_TEXT)]
    return json.dumps(claim, separators=(",", ":"))


def _modal(blocks: list[Block], context: dict[str, Any], *, submit: str) -> View:
    return {
        "type": "modal",
        "callback_id": ids.EXPENSE_CALLBACK,
        "private_metadata": _claim(context),
        "title": plain("New expense"),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "blocks": blocks,
    }
