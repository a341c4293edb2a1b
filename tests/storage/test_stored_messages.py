"""An announcement stored before the message models, read back from the table on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from bot import messages as m
from slack_ui.messages import announcement
from storage.db import Database
from storage.repositories import Announcements
from tests.bot.test_messages import STORED


async def test_an_old_row_in_the_table_is_sent_from_its_model(database: Database) -> None:
    async with database.session() as session:
        await Announcements(session).owe("old:1", "C0ACME", "expense_outcome", json.loads(STORED["expense_outcome"]))
    async with database.session() as session:
        row = await Announcements(session).get("old:1")
    assert row is not None
    message = m.load(row.kind, row.payload)
    assert isinstance(message, m.ExpenseOutcome) and message.thread() == "1.0001"
    assert json.dumps(m.dump(message)) == json.dumps(json.loads(STORED["expense_outcome"]))
    text, _ = announcement(message)
    assert text == "The expense (£12.00) did not sync: Refused"
