"""The named ways services tell the rest of the bot that something is to be done, instead of bare callables.

``WorkToSend`` is how a service that stored work for a scheduled job (an announcement owed, an expense to send,
a receipt to upload) has that job run now rather than at its next tick; the composition's ``Jobs`` is it.
``AroundSend`` is what one kind of announcement does just before and just after it is posted.
"""

from __future__ import annotations

from typing import Protocol

from bot.messages import Message
from storage.tables import OutboxExpense


class WorkToSend(Protocol):
    def announcements_owed(self) -> None:
        """An announcement was owed: the sender looks now."""
        ...

    def expenses_waiting(self) -> None:
        """An expense waits to be sent (and its message to be posted): the outbox and the sender look now."""
        ...

    def receipts_waiting(self) -> None:
        """A receipt waits to be uploaded: the uploader looks now."""
        ...


class NoWorkToSend:
    """For a caller that runs the jobs itself (a test, a benchmark): being told changes nothing."""

    def announcements_owed(self) -> None:
        return None

    def expenses_waiting(self) -> None:
        return None

    def receipts_waiting(self) -> None:
        return None


class ExpenseMessageRefresh(Protocol):
    async def refresh(self, record: OutboxExpense) -> None:
        """Rewrite the expense's message in its channel as the expense stands now (if it was posted)."""
        ...


class NoMessagesToRefresh:
    """For a caller that watches batches without a Slack to show them in (a test, a benchmark)."""

    async def refresh(self, record: OutboxExpense) -> None:
        return None


class AroundSend(Protocol):
    """What one kind of announcement does around its post; by default, nothing."""

    async def before_send(self, message: Message) -> Message:
        """The message rebuilt from current state just before posting (it may have moved since it was owed)."""
        return message

    async def after_send(self, message: Message, ts: str) -> None:
        """Record what the post made (the message's ts)."""
        return
