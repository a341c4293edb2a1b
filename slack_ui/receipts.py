"""Receipts posted in Slack: the offer to use one, what became of it, and the modal that attaches it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import messages as m
from slack_ui import ids
from slack_ui.kit import Block, Message, View, input_block, mrkdwn, option, plain
from slack_ui.text import MAX_OPTIONS, NAME, SECTION_TEXT, escape


def receipt_offer(message: m.ReceiptOffer) -> Message:
    name = escape(message.file_name, NAME)
    text = f"Use {name} as a receipt?"
    return text, [
        mrkdwn(f":receipt: Use *{name}* as a receipt?"),
        {
            "type": "actions",
            "block_id": ids.RECEIPT_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.RECEIPT_NEW_EXPENSE,
                    "text": plain("New expense from this receipt"),
                    "value": message.file_id,
                    "style": "primary",
                },
                {
                    "type": "button",
                    "action_id": ids.RECEIPT_ATTACH,
                    "text": plain("Attach to an expense"),
                    "value": message.file_id,
                },
            ],
        },
    ]


def receipt_note(message: m.ReceiptNote) -> Message:
    """Our sentence about a file, carrying its name and perhaps a service's error: escaped as a whole."""
    text = escape(message.text, SECTION_TEXT)
    return text, [mrkdwn(text)]


def attach_modal(file_id: str, expenses: Sequence[dict[str, Any]]) -> View:
    choices = [
        option(f"{e['merchant'] or 'Expense'} — {e['total']} — {e['date']}", e["expense_id"])
        for e in expenses[:MAX_OPTIONS]
    ]
    blocks: list[Block]
    if choices:
        blocks = [
            input_block(
                ids.ATTACH_EXPENSE, "Expense", {"type": "static_select", "action_id": ids.VALUE, "options": choices}
            )
        ]
    else:
        blocks = [mrkdwn("You have no expenses to attach it to yet. Use *New expense from this receipt* instead.")]
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": ids.ATTACH_CALLBACK,
        "private_metadata": json.dumps({"file_id": file_id}),
        "title": plain("Attach a receipt"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }
    if choices:
        view["submit"] = plain("Attach")
    return view
