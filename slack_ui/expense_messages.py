"""The message of an expense in its channel, its outcome in the thread, the summary of many, the status list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import messages as m
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


def expense_message(message: m.ExpenseMessage) -> Message:
    who = mention(message.user_id)
    merchant = escape(message.merchant or "an expense", NAME)
    status = status_line(message.state, message.status)
    head = f"{who} submitted *{merchant}* — *{message.total}*"
    details = [status]
    if message.accounting_id and message.status == "SYNCED":
        details.append(f"Recorded as `{escape(message.accounting_id, ID)}`")
    if message.error_message:
        details.append(escape(message.error_message, ERROR))
    text = f"{who} submitted {merchant} for {message.total}: {status.split(': ', 1)[-1]}"
    return text, [mrkdwn(head), context(" · ".join(details), f"Expense `{message.expense_id}`")]


def status_line(state: str, status: str | None) -> str:
    """The line for where an expense is: its state, and within the service its status."""
    return STATUS_LINES.get((state, status), STATUS_LINES.get((state, None), ""))


def expense_submitted(message: m.ExpenseSubmitted) -> Message:
    """Never drawn as it was owed: the row names only the expense, and the sender posts it as the expense stands
    (an ``ExpenseMessage``). An expense that is gone has nothing to show."""
    raise KeyError(f"expense {message.expense_id} is not there to be shown")


def _fix_button(expense_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": ids.FIX_AND_RETRY,
        "text": plain("Fix and retry"),
        "value": expense_id,
        "style": "primary",
    }


def expense_outcome(message: m.ExpenseOutcome) -> Message:
    """The reply in an expense's thread when its batch ends."""
    merchant = escape(message.merchant or "The expense", NAME)
    if message.status == "SYNCED":
        recorded = f" as `{escape(message.accounting_id, ID)}`" if message.accounting_id else ""
        text = f"{merchant} ({message.total}) is in the books{recorded}."
        return text, [mrkdwn(f":white_check_mark: *{merchant}* ({message.total}) is in the books{recorded}.")]
    reason = escape(message.error_message or "The accounting software refused it.", ERROR)
    text = f"{merchant} ({message.total}) did not sync: {reason}"
    return text, [
        mrkdwn(f":x: *{merchant}* ({message.total}) did not sync.\n{reason}"),
        {
            "type": "actions",
            "block_id": ids.fix_block(message.expense_id),
            "elements": [_fix_button(message.expense_id)],
        },
    ]


MAX_SUMMARY_FAILURES = 20


def outcome_summary(message: m.OutcomeSummary) -> Message:
    """One message for many outcomes in a channel at once; every failure still named, with its button."""
    outcomes = message.outcomes
    synced = [o for o in outcomes if o.status == "SYNCED"]
    failed = [o for o in outcomes if o.status != "SYNCED"]
    text = f"{len(outcomes)} expenses finished syncing: {len(synced)} in the books, {len(failed)} failed."
    message_blocks: list[Block] = [
        mrkdwn(
            f":bar_chart: *{len(outcomes)} expenses finished syncing*: "
            f"{len(synced)} in the books, {len(failed)} failed."
        )
    ]
    for outcome in failed[:MAX_SUMMARY_FAILURES]:
        merchant = escape(outcome.merchant or "Expense", NAME)
        message_blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":x: *{merchant}* ({outcome.total}) by {mention(outcome.user_id)}:"
                    f" {escape(outcome.error_message or 'refused', ERROR)}",
                },
                "accessory": _fix_button(outcome.expense_id),
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
