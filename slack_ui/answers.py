"""What the bot answers the person who asked: the command list, and refusals in plain words."""

from __future__ import annotations

from collections.abc import Sequence

from bot.services.refusals import Refusal
from slack_ui.kit import Message, mrkdwn
from slack_ui.text import ERROR, SECTION_TEXT, escape, shorten

SUBCOMMANDS: Sequence[tuple[str, str]] = (
    ("help", "this list"),
    ("register <company name>", "admins: create the company with {service} and link this channel to it"),
    ("link <company id>", "admins: link this channel to an existing company"),
    ("connect [software]", "admins: post the link that connects accounting software ({software})"),
    ("connections", "the company's connections and their status"),
    ("disconnect <software or connection id>", "admins: unlink accounting software (asks first)"),
    ("expense", "submit an expense, with receipts, to the company's books"),
    ("status", "the company's recent sync batches and how they ended"),
)


def usage(service: str, software: str) -> Message:
    """The commands, naming the running service and the software it connects to."""
    lines = "\n".join(
        f"• `/sync2books {escape(name)}` — {escape(what.format(service=service, software=software), 1000)}"
        for name, what in SUBCOMMANDS
    )
    text = "Sync2Books for Slack: what you can ask\n" + lines
    return text, [mrkdwn("*Sync2Books for Slack* — what you can ask"), mrkdwn(lines)]


def refusal(said: Refusal | str) -> Message:
    """A refusal as the person sees it: our words as written, every outside value in it escaped."""
    text = said.shown(lambda value: escape(value, ERROR)) if isinstance(said, Refusal) else said
    return text, [mrkdwn(shorten(text, SECTION_TEXT))]
