"""The states a stored row moves through, each stored as the same lower-case word it always was."""

from __future__ import annotations

from enum import StrEnum


class OutboxState(StrEnum):
    """An expense's place in the outbox: waiting → sending → accepted, or rejected (sent again from waiting)."""

    WAITING = "waiting"
    SENDING = "sending"
    ACCEPTED = "accepted"  # the expense-sync service has it; its status says how far it went
    REJECTED = "rejected"  # refused as it is: a Fix and retry sends it again


class AnnouncementState(StrEnum):
    """A message the bot owes a channel: pending → sending → sent, or failed."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    COVERED = "covered"  # said by a summary instead, never sent alone
    AWAITING_MEMBER = "awaiting_member"  # owed to a channel the bot is not in, until it is invited


class ReceiptState(StrEnum):
    """A file on its way to an expense: waiting (and retried) until uploaded, or failed."""

    WAITING = "waiting"
    UPLOADED = "uploaded"
    FAILED = "failed"


class AuthLinkState(StrEnum):
    """An authorization link posted in a channel: pending until used (connected) or expired."""

    PENDING = "pending"
    CONNECTED = "connected"
    EXPIRED = "expired"


# What the expense-sync service said, as the bot keeps it: the port's words, which the queries below look for.
# Storage knows the words, not the service that says them (tests/storage/test_states.py holds them to the port).
BOOKED = "SYNCED"
SYNC_FAILED = "FAILED"
CONNECTED = "CONNECTED"
