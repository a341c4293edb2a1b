"""Storage keeps the port's words for what the expense-sync service said; they must stay the port's words."""

from __future__ import annotations

from bot.backend import ConnectionStatus, ExpenseStatus
from storage import states


def test_the_stored_service_words_are_the_ports() -> None:
    assert ExpenseStatus.SYNCED.value == states.BOOKED
    assert ExpenseStatus.FAILED.value == states.SYNC_FAILED
    assert ConnectionStatus.CONNECTED.value == states.CONNECTED
