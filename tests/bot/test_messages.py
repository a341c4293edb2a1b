"""The message kinds: one registry, a builder for each, and the announcements table's JSON unchanged by the models.

Rows stored before the models existed (literal JSON below, as the services wrote them) still load into their
kind's model, are drawn, and are written back key for key, in the same order; what the services build now
is stored as exactly that JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from bot import messages as m
from bot.backend import (
    BatchCounts,
    BatchExpense,
    BatchStatus,
    ConnectionErrorInfo,
    ConnectionStatus,
    ExpenseStatus,
    ServiceConnection,
    SyncBatch,
    SyncError,
)
from bot.services.batches import _outcome
from bot.services.expenses import summary
from bot.services.watching import _connection_news
from slack_ui.messages import BUILDERS, announcement
from storage.states import OutboxState
from storage.tables import CompanyRecord, OutboxExpense
from tests.support.fake_backend import FAKE_SOFTWARE

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)

# Payloads as the announcements table holds them, written by the services before the models.
STORED: dict[str, str] = {
    "company_registered": '{"company_id": "co-1", "company_name": "Acme", "service": "Sync2Books", "user_id": "U1"}',
    "invite_needed": '{"channel_id": "C0ACME"}',
    "auth_links": (
        '{"company_name": "Acme", "service": "Sync2Books", "user_id": "U1", "links": ['
        '{"id": "l-1", "software": "XERO", "name": "Xero", "url": "https://x.example/a", '
        '"expires_at": "2026-12-09T10:00:00Z"}, '
        '{"id": "l-2", "software": "SAGE", "name": "Sage", "url": "https://x.example/b", "expires_at": null}]}'
    ),
    "link_connected": (
        '{"company_name": "Acme", "software_name": "Xero", "command": "xero", "link_message_ts": null, '
        '"link_message": {"company_name": "Acme", "service": "Sync2Books", "user_id": "U1", "links": ['
        '{"id": "l-1", "software": "XERO", "name": "Xero", "url": "https://x.example/a", "expires_at": null, '
        '"state": "connected"}]}}'
    ),
    "connection_lost": (
        '{"company_name": "Acme", "service": "Sync2Books", "software_name": "Xero", "status": "ERROR", '
        '"error_message": null, "command": "xero"}'
    ),
    "disconnected_by_user": '{"company_name": "Acme", "software_name": "Xero", "command": "xero", "user_id": "U1"}',
    "expense_submitted": '{"expense_id": "e-1"}',
    "expense_outcome": (
        '{"expense_id": "e-1", "user_id": "U1", "merchant": null, "total": "\\u00a312.00", "state": "accepted", '
        '"status": "FAILED", "error_message": "Refused", "accounting_id": null, "batch_id": "b-1", '
        '"batch_status": "COMPLETED", "thread_ts": "1.0001"}'
    ),
    "outcome_summary": (
        '{"outcomes": [{"expense_id": "e-1", "user_id": "U1", "merchant": "Taxi", "total": "\\u00a31.00", '
        '"state": "accepted", "status": "SYNCED", "error_message": null, "accounting_id": "books-1", '
        '"batch_id": "b-1", "batch_status": "COMPLETED", "thread_ts": null}]}'
    ),
    "receipt_offer": '{"file_id": "F1", "file_name": "taxi.pdf", "thread_ts": "1.0002"}',
    "receipt_refused": '{"text": "I can\'t attach taxi.exe as a receipt.", "thread_ts": "1.0002"}',
    "receipt_failed": '{"text": "I could not attach a receipt to this expense.", "thread_ts": null, "user_id": "U1"}',
}


def test_every_kind_has_a_builder_and_every_builder_a_kind() -> None:
    assert set(BUILDERS) == set(m.KINDS.values())
    assert {model.KIND for model in BUILDERS} == set(m.KINDS)
    assert all(kind == model.KIND for kind, model in m.KINDS.items())
    assert len({model.KIND for model in m.KINDS.values()}) == len(m.KINDS) == 18  # receipt_duplicate joined the 17


@pytest.mark.parametrize("kind", sorted(STORED))
def test_a_row_stored_before_the_models_loads_and_is_written_back_key_for_key(kind: str) -> None:
    stored = json.loads(STORED[kind])
    message = m.load(kind, stored)
    assert type(message) is m.KINDS[kind] and kind == message.KIND
    assert json.dumps(m.dump(message)) == json.dumps(stored)  # the same keys, values and order
    if kind != "expense_submitted":  # drawn only as the expense stands (see below)
        text, blocks = announcement(message)
        assert text and blocks


def test_a_submitted_expense_is_drawn_only_as_it_stands() -> None:
    with pytest.raises(KeyError):
        announcement(m.load("expense_submitted", {"expense_id": "e-1"}))


def test_a_row_of_another_shape_is_refused_not_half_read() -> None:
    with pytest.raises(ValidationError):
        m.load("invite_needed", {"channel_id": "C1", "channel": "C2"})
    with pytest.raises(ValidationError):
        m.load("receipt_offer", {"file_name": "taxi.pdf"})
    with pytest.raises(KeyError):
        m.load("no_such_kind", {})


def test_what_is_left_out_stays_out_and_what_is_none_stays_null() -> None:
    # auth_links rows without "service" (the builder then says Sync2Books) keep having none.
    links = m.load("auth_links", {"company_name": "Acme", "user_id": "U1", "links": []})
    assert m.dump(links) == {"company_name": "Acme", "user_id": "U1", "links": []}
    assert "to Sync2Books" in announcement(links)[1][0]["text"]["text"]
    assert m.dump(m.ReceiptRefused(text="x", thread_ts=None)) == {"text": "x", "thread_ts": None}


def _record(**changes: Any) -> OutboxExpense:
    values: dict[str, Any] = {
        "id": "e-1",
        "company_id": "co-1",
        "connection_id": "conn-1",
        "channel_id": "C0ACME",
        "submitted_by": "U1",
        "submission_key": "view-1",
        "body": "{}",
        "currency": "GBP",
        "total": "12.00",
        "merchant": None,
        "state": OutboxState.ACCEPTED,
        "status": "PROCESSING",
        "next_attempt_at": NOW,
        "message_ts": "1.0001",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return OutboxExpense(**{**values, **changes})


def test_the_services_store_the_json_they_always_stored() -> None:
    batch = SyncBatch(
        id="b-1",
        company_id="co-1",
        connection_id="conn-1",
        status=BatchStatus.COMPLETED,
        created_at=NOW,
        updated_at=NOW,
        counts=BatchCounts(total=1, synced=0, failed=1),
        expenses=[],
    )
    item = BatchExpense(id="e-1", status=ExpenseStatus.FAILED, error=SyncError(code="x", message="Refused."))
    assert json.dumps(m.dump(_outcome(_record(), item, batch))) == json.dumps(json.loads(STORED["expense_outcome"]))
    assert m.dump(summary(_record())) == {
        "expense_id": "e-1",
        "user_id": "U1",
        "merchant": None,
        "total": "£12.00",
        "state": "accepted",
        "status": "PROCESSING",
        "error_message": None,
        "accounting_id": None,
    }
    connection = ServiceConnection(
        id="conn-1",
        company_id="co-1",
        integration_key="XERO",
        platform_name="Xero",
        status=ConnectionStatus.ERROR,
        created_at=NOW,
        updated_at=NOW,
        error=None,
    )
    company = CompanyRecord(id="co-1", name="Acme", registered_by="U1", created_at=NOW)
    lost = _connection_news(m.ConnectionLost, company, connection, FAKE_SOFTWARE, "Sync2Books")
    assert json.dumps(m.dump(lost)) == json.dumps(json.loads(STORED["connection_lost"]))
    told = connection.model_copy(update={"error": ConnectionErrorInfo(code="x", message="Token revoked")})
    assert m.dump(_connection_news(m.ConnectionLost, company, told, FAKE_SOFTWARE, "S"))["error_message"]
