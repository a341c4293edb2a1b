"""The message of an expense in its channel, its outcome in the thread, the summary of many, the status list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_ui import ids
from slack_ui.kit import Block, Message, context, mrkdwn, plain
from slack_ui.text import ERROR, ID, NAME, SECTION_TEXT, capped, escape, mention, shorten, slack_date

STATUS_LINES = {
    ("waiting", None): ":hourglass_flowing_sand: Waiting to be sent",
    ("sending", None): ":hourglass_flowing_sand: Sending",
    ("accepted", "QUEUED"): ":inbox_tray: Queued for sync",
    ("accepted", "PROCESSING"): ":arrows_counterclockwise: Syncing to the books",
    ("accepted", "SYNCED"): ":white_check_mark: In the books",
    ("accepted", "FAILED"): ":x: Sync failed",
    ("rejected", None): ":no_entry: Not accepted",
}


def expense_message(payload: dict[str, Any]) -> Message:
    who = mention(payload["user_id"])
    merchant = escape(payload.get("merchant") or "an expense", NAME)
    status = STATUS_LINES.get((payload["state"], payload.get("status")), STATUS_LINES.get((payload["state"], None), ""))
    head = f"{who} submitted *{merchant}* — *{payload['total']}*"
    details = [status]
    if payload.get("accounting_id") and payload.get("status") == "SYNCED":
        details.append(f"Recorded as `{escape(payload['accounting_id'], ID)}`")
    if payload.get("error_message"):
        details.append(escape(payload["error_message"], ERROR))
    text = f"{who} submitted {merchant} for {payload['total']}: {status.split(': ', 1)[-1]}"
    return text, [mrkdwn(head), context(" · ".join(details), f"Expense `{payload['expense_id']}`")]


def _fix_button(expense_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ids.FIX_AND_RETRY,
        "text": plain("Fix and retry"),
        "value": expense_id,
        "style": "primary",
    }


def expense_outcome(payload: dict[str, Any]) -> Message:
    """The reply in an expense's thread when its batch ends."""
    merchant = escape(payload.get("merchant") or "The expense", NAME)
    if payload["status"] == "SYNCED":
        recorded = f" as `{escape(payload['accounting_id'], ID)}`" if payload.get("accounting_id") else ""
        text = f"{merchant} ({payload['total']}) is in the books{recorded}."
        return text, [mrkdwn(f":white_check_mark: *{merchant}* ({payload['total']}) is in the books{recorded}.")]
    reason = escape(payload.get("error_message") or "The accounting software refused it.", ERROR)
    text = f"{merchant} ({payload['total']}) did not sync: {reason}"
    return text, [
        mrkdwn(f":x: *{merchant}* ({payload['total']}) did not sync.\n{reason}"),
        {
            "type": "actions",
            "block_id": ids.fix_block(payload["expense_id"]),
            "elements": [_fix_button(payload["expense_id"])],
        },
    ]


MAX_SUMMARY_FAILURES = 20


def outcome_summary(payload: dict[str, Any]) -> Message:
    """One message for many outcomes in a channel at once; every failure still named, with its button."""
    outcomes = payload["outcomes"]
    synced = [o for o in outcomes if o["status"] == "SYNCED"]
    failed = [o for o in outcomes if o["status"] != "SYNCED"]
    text = f"{len(outcomes)} expenses finished syncing: {len(synced)} in the books, {len(failed)} failed."
    message_blocks: list[Block] = [
        mrkdwn(
            f":bar_chart: *{len(outcomes)} expenses finished syncing*: "
            f"{len(synced)} in the books, {len(failed)} failed."
        )
    ]
    for outcome in failed[:MAX_SUMMARY_FAILURES]:
        merchant = escape(outcome.get("merchant") or "Expense", NAME)
        message_blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":x: *{merchant}* ({outcome['total']}) by {mention(outcome['user_id'])}:"
                    f" {escape(outcome.get('error_message') or 'refused', ERROR)}",
                },
                "accessory": _fix_button(outcome["expense_id"]),
            }
        )
    if len(failed) > MAX_SUMMARY_FAILURES:
        message_blocks.append(context(f"…and {len(failed) - MAX_SUMMARY_FAILURES} more failed: see their threads."))
    return text, message_blocks


def status_list(company: str, batches: Sequence[Any]) -> Message:
    company_name = escape(company, NAME)
    if not batches:
        text = f"{company_name} has no expenses yet. Submit one with /sync2books expense."
        return text, [
            mrkdwn(f"*{company_name}* has no expenses yet."),
            context("Submit one with `/sync2books expense`."),
        ]
    lines = []
    for batch in batches:
        if batch.batch_id is None:
            lines.append(f"• {batch.expenses} expense(s) waiting to be sent")
            continue
        if batch.waiting or batch.synced + batch.failed < batch.expenses:
            state = ":arrows_counterclockwise: syncing"
        elif batch.failed == 0:
            state = ":white_check_mark: completed"
        elif batch.synced == 0:
            state = ":x: failed"
        else:
            state = ":warning: partly failed"
        lines.append(
            f"• `{escape(batch.batch_id[:8])}` — {batch.expenses} expense(s), {state}"
            f" ({batch.synced} in the books, {batch.failed} failed) · {slack_date(batch.updated_at)}"
        )
    text = f"{company_name}'s recent sync batches: " + "; ".join(line.lstrip("• ") for line in lines)
    return shorten(text, SECTION_TEXT), [
        mrkdwn(f"*{company_name}*'s recent sync batches"),
        mrkdwn(capped(lines, what="more batches")),
    ]
