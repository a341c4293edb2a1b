"""Every message kind the bot posts or rewrites, and the builder that draws it: registered here once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_ui import announcements, connections, expense_messages, receipts
from slack_ui.kit import Message

Builder = Callable[[dict[str, Any]], Message]

BUILDERS: dict[str, Builder] = {
    "company_registered": announcements.company_registered,
    "company_linked": announcements.company_linked,
    "invite_needed": announcements.invite_needed,
    "auth_links": connections.auth_links_message,
    "link_connected": connections.link_connected,
    "link_expired": connections.link_expired,
    "connection_connected": connections.connection_connected,
    "connection_restored": connections.connection_restored,
    "connection_lost": connections.connection_lost,
    "disconnected_by_user": connections.disconnected_by_user,
    "expense_submitted": expense_messages.expense_message,
    "expense": expense_messages.expense_message,
    "expense_outcome": expense_messages.expense_outcome,
    "outcome_summary": expense_messages.outcome_summary,
    "receipt_offer": receipts.receipt_offer,
    "receipt_refused": receipts.receipt_note,
    "receipt_duplicate": receipts.receipt_duplicate,
    "receipt_failed": receipts.receipt_note,
}


def announcement(kind: str, payload: dict[str, Any]) -> Message:
    """The message of ``kind`` for ``payload``, as the notifier posts or rewrites it."""
    return BUILDERS[kind](payload)
