"""Every message kind the bot posts or rewrites, and the builder that draws it: registered here once.

The kinds are ``bot.messages.KINDS``; each builder takes its kind's model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from bot import messages as m
from slack_ui import announcements, connections, expense_messages, receipts
from slack_ui.kit import Message

M = TypeVar("M", bound=m.Message)

Builder = Callable[[Any], Message]

BUILDERS: dict[type[m.Message], Builder] = {}


def _register(model: type[M], builder: Callable[[M], Message]) -> None:
    BUILDERS[model] = builder


_register(m.CompanyRegistered, announcements.company_registered)
_register(m.CompanyLinked, announcements.company_linked)
_register(m.InviteNeeded, announcements.invite_needed)
_register(m.AuthLinks, connections.auth_links_message)
_register(m.LinkConnected, connections.link_connected)
_register(m.LinkExpired, connections.link_expired)
_register(m.ConnectionConnected, connections.connection_connected)
_register(m.ConnectionRestored, connections.connection_restored)
_register(m.ConnectionLost, connections.connection_lost)
_register(m.DisconnectedByUser, connections.disconnected_by_user)
_register(m.ExpenseSubmitted, expense_messages.expense_submitted)
_register(m.ExpenseMessage, expense_messages.expense_message)
_register(m.ExpenseOutcome, expense_messages.expense_outcome)
_register(m.OutcomeSummary, expense_messages.outcome_summary)
_register(m.ReceiptOffer, receipts.receipt_offer)
_register(m.ReceiptDuplicate, receipts.receipt_duplicate)
_register(m.ReceiptRefused, receipts.receipt_note)
_register(m.ReceiptFailed, receipts.receipt_note)


def announcement(message: m.Message) -> Message:
    """The message as the notifier posts or rewrites it."""
    return BUILDERS[type(message)](message)
