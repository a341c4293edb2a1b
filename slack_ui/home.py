"""App Home: the companies of the person, their channels and connections, and their recent expenses."""

from __future__ import annotations

from collections.abc import Sequence

from bot.messages import ExpenseMessage
from bot.services.home import HomeCompany
from slack_ui import ids
from slack_ui.connections import STATUS_WORDS
from slack_ui.expense_messages import status_line
from slack_ui.kit import Block, View, context, mrkdwn, plain
from slack_ui.text import NAME, VIEW_BLOCKS, capped, channel_link, escape

HOME_BLOCKS_PER_COMPANY = 3
HOME_CHANNELS = 10


def home_view(companies: Sequence[HomeCompany], recent: Sequence[ExpenseMessage] = ()) -> View:
    blocks: list[Block] = [{"type": "header", "text": plain("Sync2Books")}]
    if not companies:
        blocks.append(
            mrkdwn(
                "None of your channels is linked to a company yet. In a channel, an admin can run "
                "`/sync2books register <company name>`."
            )
        )
    recent_blocks = recent_expenses_blocks(recent)
    # What always comes after the companies: the button, the recent expenses, the help line, "…and N more".
    room = VIEW_BLOCKS - len(blocks) - (1 + len(recent_blocks) + 1 + 1)
    for shown, company in enumerate(companies):
        if room < HOME_BLOCKS_PER_COMPANY:
            blocks.append(context(f"…and {len(companies) - shown} more companies: see them in their channels."))
            break
        room -= HOME_BLOCKS_PER_COMPANY
        channels = [channel_link(channel) for channel in company.channel_ids[:HOME_CHANNELS]]
        if len(company.channel_ids) > HOME_CHANNELS:
            channels.append(f"and {len(company.channel_ids) - HOME_CHANNELS} more")
        blocks.append({"type": "divider"})
        blocks.append(mrkdwn(f"*{escape(company.name, NAME)}*  ·  {', '.join(channels)}"))
        if company.connections:
            lines = [
                f"• {escape(c.software_name, NAME)} — {STATUS_WORDS.get(c.status, escape(c.status.lower(), NAME))}"
                for c in company.connections
            ]
            blocks.append(mrkdwn(capped(lines, what="more connections")))
        else:
            blocks.append(context("No accounting software connected yet: `/sync2books connect` in its channel."))
    if companies:
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.HOME_ACTIONS_BLOCK,
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.NEW_EXPENSE_BUTTON,
                        "text": plain("New expense"),
                        "style": "primary",
                    }
                ],
            }
        )
    blocks += recent_blocks
    blocks.append(context("Type `/sync2books help` in any channel for everything the bot can do."))
    return {"type": "home", "blocks": blocks}


def recent_expenses_blocks(expenses: Sequence[ExpenseMessage]) -> list[Block]:
    if not expenses:
        return []
    lines = [
        f"• *{escape(e.merchant or 'Expense', NAME)}* — {e.total} — {status_line(e.state, e.status)}" for e in expenses
    ]
    return [{"type": "divider"}, mrkdwn("*Your recent expenses*"), mrkdwn(capped(lines, what="more expenses"))]
