"""Receipts posted in Slack: the offer to use one, what became of it, and the modal that attaches it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import messages as m
from slack_ui import ids
from slack_ui.kit import Block, Message, View, context, input_block, mrkdwn, option, plain
from slack_ui.text import MAX_OPTIONS, NAME, SECTION_TEXT, escape, mention


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


def _duplicate_words(duplicate: dict[str, Any]) -> str:
    """ "the same file as *Green Taxi* — CHF 45.20 — 2026-11-20, submitted by @ada": the expense it may repeat."""
    what = "the same file as" if duplicate.get("same_bytes") else "the same merchant, date and total as"
    merchant = escape(duplicate.get("merchant") or "an expense", NAME)
    parts = [f"*{merchant}*", escape(duplicate["total"], NAME)]
    if duplicate.get("issue_date"):
        parts.append(escape(duplicate["issue_date"], NAME))
    named = " — ".join(parts)
    return f"{what} {named}, submitted by {mention(duplicate['user_id'])}"


def receipt_duplicate(note: m.ReceiptDuplicate) -> Message:
    """In a shared file's thread: the file may be a second copy of an expense already submitted."""
    said = _duplicate_words(note.model_dump())
    text = f":warning: *{escape(note.file_name, NAME)}* may be a duplicate: it has {said}."
    return text, [mrkdwn(text)]


def receipt_notes(receipt: dict[str, Any]) -> list[Block]:
    """What the expense modal opened from a receipt says above its fields: what was read, and a possible duplicate.

    ``receipt``: file_name, state ("read", "reading" or "unreadable"), problem, and duplicate (or None)."""
    name = escape(receipt["file_name"], NAME)
    if receipt["state"] == "read":
        said = f":receipt: Read from *{name}* — check before submitting."
    elif receipt["state"] == "reading":
        said = f":hourglass_flowing_sand: Reading *{name}*… the fields are filled in when it is read."
    else:
        problem = escape(receipt.get("problem") or "it has no text to read", SECTION_TEXT // 2)
        said = f":receipt: I could not read *{name}* ({problem}): fill the fields in yourself."
    blocks = [context(said)]
    if receipt.get("duplicate"):
        blocks.append(mrkdwn(f":warning: This may be a duplicate: it has {_duplicate_words(receipt['duplicate'])}."))
    return blocks
