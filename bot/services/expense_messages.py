"""Each expense's message in its channel: posted once, then rewritten as the expense moves."""

from __future__ import annotations

from bot.messages import ExpenseMessage, ExpenseOutcome, ExpenseSubmitted, Message, expect
from bot.ports import Notifier
from bot.services.expenses import summary
from bot.services.work import AroundSend
from storage.db import Database
from storage.repositories import Expenses
from storage.tables import OutboxExpense


class ExpenseMessages(AroundSend):
    """The message of ``expense_submitted``: posted as the expense stands, its ts kept, rewritten as it moves."""

    def __init__(self, db: Database, notifier: Notifier) -> None:
        self._db = db
        self._notifier = notifier

    async def record(self, expense_id: str) -> OutboxExpense | None:
        async with self._db.session() as session:
            return await Expenses(session).get(expense_id)

    async def before_send(self, message: Message) -> Message:
        """The message as the expense stands now, not as it stood when the message was owed."""
        record = await self.record(expect(message, ExpenseSubmitted).expense_id)
        return summary(record) if record is not None else message

    async def after_send(self, message: Message, ts: str) -> None:
        expense_id = _expense_id(message)
        async with self._db.session() as session:
            await Expenses(session).set_message(expense_id, ts)
        # The expense may have moved while the message was on its way: bring it up to date now.
        record = await self.record(expense_id)
        if record is not None and summary(record) != message:
            await self.refresh(record)

    async def refresh(self, record: OutboxExpense) -> None:
        if record.message_ts:
            await self._notifier.update(record.channel_id, record.message_ts, summary(record))


def _expense_id(message: Message) -> str:
    """The expense an ``expense_submitted`` names, as owed or as drawn just before its post."""
    if isinstance(message, ExpenseMessage):
        return message.expense_id
    return expect(message, ExpenseSubmitted).expense_id


class OutcomeThreads(AroundSend):
    """An ``expense_outcome`` goes in its expense's thread, which may have been posted after the outcome was owed."""

    def __init__(self, messages: ExpenseMessages) -> None:
        self._messages = messages

    async def before_send(self, message: Message) -> Message:
        outcome = expect(message, ExpenseOutcome)
        record = await self._messages.record(outcome.expense_id)
        if record is not None and record.message_ts:
            return outcome.model_copy(update={"thread_ts": record.message_ts})
        return outcome
