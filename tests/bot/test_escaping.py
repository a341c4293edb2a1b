"""Outside text is shown as typed and never becomes markup: every builder that carries some, and both modals
end to end through the signed endpoint, reading what the fake Slack received."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import messages as m
from bot.backend import ServiceConnection
from bot.services.expenses import BatchSummary
from bot.services.home import HomeCompany, HomeConnection
from bot.services.refusals import Refusal
from slack_ui import announcements, answers, connections, expense_messages, expense_modal, home, receipts, text
from sync2books.models import ConnectionErrorInfo, ConnectionStatus
from tests.support.bot import ADMIN, CHANNEL, RunningBot
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal
from tests.support.fake_slack import FakeSlack, markup_of, text_of
from tests.support.sandbox_client import SandboxClient

HOSTILE = "Acme <!channel> <@U1> <https://evil.example|click> & Co <>"
MARKUP = ("<!channel>", "<@U1>", "<https://evil", "<>")
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def _shown_safely(item: Any) -> None:
    """Nothing of HOSTILE is markup in what Slack receives, and a person reads it exactly as typed."""
    for part in MARKUP:
        assert part not in markup_of(item), markup_of(item)
    assert "&amp; Co &lt;&gt;" in markup_of(item)  # plain_text (buttons, options) is never parsed: left as typed
    assert HOSTILE in text_of(item)


def _message(built: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
    text, message_blocks = built
    return {"text": text, "blocks": message_blocks}


def _connection(**changes: Any) -> ServiceConnection:
    values: dict[str, Any] = {
        "id": "c0ffee",
        "company_id": "co",
        "integration_key": "XERO",
        "platform_name": HOSTILE,
        "status": ConnectionStatus.ERROR,
        "created_at": NOW,
        "updated_at": NOW,
        "error": ConnectionErrorInfo(code="x", message=HOSTILE),
    }
    return ServiceConnection(**{**values, **changes})


DUPLICATE = {
    "expense_id": "e",
    "merchant": HOSTILE,
    "total": HOSTILE,
    "issue_date": HOSTILE,
    "user_id": "UADMIN",
    "same_bytes": False,
}
BUILDERS: dict[str, Callable[[], Any]] = {
    "company_registered": lambda: announcements.company_registered(
        m.CompanyRegistered(user_id="UADMIN", company_name=HOSTILE, company_id="id")
    ),
    "company_linked": lambda: announcements.company_linked(
        m.CompanyLinked(user_id="UADMIN", company_name=HOSTILE, company_id="id")
    ),
    "auth_links": lambda: connections.auth_links_message(
        m.AuthLinks(
            company_name=HOSTILE,
            user_id="UADMIN",
            links=[
                m.AuthLinkEntry(id="l", software="XERO", name=HOSTILE, url="https://x.example/link", expires_at=None)
            ],
        )
    ),
    "link_connected": lambda: connections.link_connected(
        m.LinkConnected(software_name=HOSTILE, company_name=HOSTILE, command="x")
    ),
    "link_expired": lambda: connections.link_expired(
        m.LinkExpired(software_name=HOSTILE, company_name=HOSTILE, command="x")
    ),
    "connection_restored": lambda: connections.connection_restored(
        m.ConnectionRestored(software_name=HOSTILE, company_name=HOSTILE, command="x", status="CONNECTED")
    ),
    "connection_lost_error": lambda: connections.connection_lost(
        m.ConnectionLost(
            software_name="Xero", company_name=HOSTILE, command="xero", status="ERROR", error_message=HOSTILE
        )
    ),
    "connection_lost": lambda: connections.connection_lost(
        m.ConnectionLost(software_name=HOSTILE, company_name=HOSTILE, command="xero", status="DISCONNECTED")
    ),
    "disconnected_by_user": lambda: connections.disconnected_by_user(
        m.DisconnectedByUser(user_id="UADMIN", software_name=HOSTILE, company_name=HOSTILE, command="xero")
    ),
    "connections_list": lambda: connections.connections_list(HOSTILE, [_connection()]),
    "disconnect_confirmation": lambda: connections.disconnect_confirmation(HOSTILE, HOSTILE, "c0ffee"),
    "disconnect_done": lambda: connections.disconnect_done(HOSTILE, HOSTILE),
    "home_view": lambda: home.home_view(
        [HomeCompany(HOSTILE, ("C0ACME",), (HomeConnection(HOSTILE, "CONNECTED", None),))],
        [m.ExpenseMessage(expense_id="e", user_id="U", merchant=HOSTILE, total="£1.00", state="waiting", status=None)],
    ),
    "expense_message": lambda: expense_messages.expense_message(
        m.ExpenseMessage(
            user_id="UADMIN", merchant=HOSTILE, total="£1.00", state="rejected", expense_id="e", error_message=HOSTILE
        )
    ),
    "receipt_offer": lambda: receipts.receipt_offer(m.ReceiptOffer(file_name=HOSTILE, file_id="F1")),
    "receipt_note": lambda: receipts.receipt_note(m.ReceiptRefused(text=f"I can't attach *{HOSTILE}* as a receipt")),
    "receipt_duplicate": lambda: receipts.receipt_duplicate(m.ReceiptDuplicate(file_name=HOSTILE, **DUPLICATE)),
    "receipt_notes_in_the_modal": lambda: (
        "notes",
        receipts.receipt_notes(
            {"file_name": HOSTILE, "state": "unreadable", "problem": HOSTILE, "duplicate": DUPLICATE}
        ),
    ),
    "expense_outcome": lambda: expense_messages.expense_outcome(
        m.ExpenseOutcome(
            merchant=HOSTILE, total="£1.00", status="FAILED", error_message=HOSTILE, expense_id="e", user_id="UADMIN"
        )
    ),
    "outcome_summary": lambda: expense_messages.outcome_summary(
        m.OutcomeSummary(
            outcomes=[
                m.ExpenseOutcome(
                    merchant=HOSTILE,
                    total="£1",
                    status="FAILED",
                    error_message=HOSTILE,
                    expense_id="e",
                    user_id="UADMIN",
                )
            ]
        )
    ),
    "status_list": lambda: expense_messages.status_list(HOSTILE, [BatchSummary("b", 1, 0, 1, 0, NOW)]),
    "refusal": lambda: answers.refusal(Refusal("Linked to *{name}*.", name=HOSTILE)),
    "expense_modal": lambda: expense_modal.expense_modal(
        {
            "company_name": HOSTILE,
            "connections": [
                {"id": "a", "name": "Xero", "base_currency": "GBP"},
                {"id": "b", "name": "Sage", "base_currency": "GBP"},
            ],
        },
        today="2026-12-02",
    ),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_builder_escapes_outside_text(name: str) -> None:
    built = BUILDERS[name]()
    _shown_safely(built if isinstance(built, dict) else _message(built))


def test_mentions_and_channel_links_of_ours_stay_markup_and_forged_ids_do_not() -> None:
    assert text.mention("UADMIN") == "<@UADMIN>"
    assert text.channel_link("C0ACME") == "<#C0ACME>"
    assert text.mention("U1> <!channel") == "U1&gt; &lt;!channel"
    assert text.channel_link("C1|x> <!here") == "C1|x&gt; &lt;!here"


async def test_a_hostile_company_name_from_the_register_modal_is_posted_as_typed(
    bot: RunningBot, fake_slack: FakeSlack
) -> None:
    await bot.sender.command("register", user_id=ADMIN, channel_id=CHANNEL)
    (opened,) = await fake_slack.wait_for("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    sent = await bot.sender.submit_view(
        user_id=ADMIN, callback_id="register_company", values={"name": {"value": HOSTILE}}, view=view
    )
    assert sent.status_code == 200
    (posted,) = await fake_slack.wait_for("chat.postMessage")
    _shown_safely(posted.params)

    answer = await bot.sender.command("connect <!channel>", user_id=ADMIN, channel_id=CHANNEL)
    (said,) = await fake_slack.wait_for_responses(answer.response_key)
    assert "<!channel>" not in markup_of(said) and "“<!channel>”" in text_of(said)


async def test_a_hostile_merchant_from_the_expense_modal_is_posted_as_typed(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, refs = await company_with_xero(bot, fake_slack, client)
    view = await open_expense_modal(bot, fake_slack)
    posted = len(fake_slack.calls_to("chat.postMessage"))
    sent = await bot.sender.submit_view(
        user_id=ADMIN, callback_id="expense", values=filled(refs, merchant=HOSTILE[:100]), view=view
    )
    assert sent.status_code == 200
    calls = await fake_slack.wait_for("chat.postMessage", count=posted + 1)
    _shown_safely(calls[-1].params)
