"""No builder can build what Slack refuses: outside text shortened with "…", growing lists capped with
"…and N more", checked with the same rules as the fake Slack (slack_sdk's models and Slack's limits).

The named cases are the ones met in the field (App Home of 40 companies, a 5,000-character error from the
books, a 20-line Fix and retry, 30 connections); the property tests feed every builder any input."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import messages as m
from bot.backend import ServiceConnection
from bot.services.expense_form import FormErrors
from bot.services.expenses import BatchSummary, _with_lines_not_shown
from bot.services.home import HomeCompany, HomeConnection
from bot.services.refusals import Refusal
from slack_ui import (
    announcements,
    answers,
    connections,
    expense_messages,
    expense_modal,
    home,
    receipts,
    register_modal,
    text,
)
from sync2books.models import ConnectionErrorInfo, ConnectionStatus
from tests.support import block_kit
from tests.support.expenses import LedgerRefs, expense_data, make_expense
from tests.support.fake_slack import text_of

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
LONG_ERROR = "The ledger said <!channel> & <@U1>: " + "period locked for posting. " * 190  # over 5,000 characters
REFS = LedgerRefs("acc-1", "tax-1", "sup-1", "cus-1", "bank-1", "trk-1", "GBP")


def message_problems(built: tuple[str, list[dict[str, Any]]]) -> list[str]:
    text, message_blocks = built
    return block_kit.message_errors({"text": text, "blocks": message_blocks})


def connection(number: int, error: str | None = LONG_ERROR) -> ServiceConnection:
    return ServiceConnection(
        id=f"conn-{number:04d}",
        company_id="co",
        integration_key="XERO",
        platform_name=f"Xero & Co <{number}>",
        status=ConnectionStatus.ERROR if error else ConnectionStatus.CONNECTED,
        created_at=NOW,
        updated_at=NOW,
        error=ConnectionErrorInfo(code="x", message=error) if error else None,
    )


# --------------------------------------------------------------------------- the cases met in the field


def test_forty_linked_companies_make_a_home_tab_slack_publishes() -> None:
    companies = [
        HomeCompany(
            f"Company {n:02d} & Sons",
            tuple(f"C0{n:02d}{c}" for c in "ABC"),
            (HomeConnection("Xero", "CONNECTED", None), HomeConnection("Sage", "ERROR", LONG_ERROR)),
        )
        for n in range(40)
    ]
    recent = [
        m.ExpenseMessage(
            expense_id="e1", user_id="UADMIN", merchant="Taxi", total="£1.00", state="waiting", status=None
        )
    ] * 5
    view = home.home_view(companies, recent)
    assert block_kit.view_errors(view, home=True) == []
    shown = text_of(view)
    assert "Company 30 & Sons" in shown and "Company 31 & Sons" not in shown
    assert "…and 9 more companies" in shown and len(view["blocks"]) == 100
    assert "New expense" in shown and "Your recent expenses" in shown and "/sync2books help" in shown


def test_a_five_thousand_character_error_is_shortened_in_every_message_that_carries_it() -> None:
    assert len(LONG_ERROR) > 5000
    failed = {"merchant": "Taxi", "total": "£1.00", "status": "FAILED", "error_message": LONG_ERROR}
    built = {
        "expense_outcome": expense_messages.expense_outcome(
            m.ExpenseOutcome(**failed, expense_id="e1", user_id="UADMIN")
        ),
        "expense_message": expense_messages.expense_message(
            m.ExpenseMessage(**failed, user_id="UADMIN", state="accepted", expense_id="e1")
        ),
        "connection_lost": connections.connection_lost(
            m.ConnectionLost(
                software_name="Xero", company_name="Acme", command="xero", status="ERROR", error_message=LONG_ERROR
            )
        ),
        "outcome_summary": expense_messages.outcome_summary(
            m.OutcomeSummary(
                outcomes=[m.ExpenseOutcome(**failed, expense_id=f"e{n}", user_id="UADMIN") for n in range(30)]
            )
        ),
        "receipt_note": receipts.receipt_note(m.ReceiptRefused(text=f"I could not attach receipt.pdf: {LONG_ERROR}")),
        "refusal": answers.refusal(Refusal("Sync2Books did not accept that: {problems}.", problems=LONG_ERROR)),
    }
    for name, message in built.items():
        assert message_problems(message) == [], name
        assert "The ledger said <!channel> & <@U1>: period locked" in text_of({"blocks": message[1]}), name
        assert "…" in text_of({"blocks": message[1]}), name


def test_thirty_connections_are_listed_as_many_as_fit_then_and_n_more() -> None:
    built = connections.connections_list("Acme", [connection(n) for n in range(30)])
    assert message_problems(built) == []
    shown = text_of({"blocks": built[1]})
    assert "Xero & Co <0>" in shown and "Xero & Co <29>" not in shown
    assert "more connections" in shown
    few = text_of({"blocks": connections.connections_list("Acme", [connection(n, None) for n in range(15)])[1]})
    assert "Xero & Co <14>" in few and "more connections" not in few  # short lines: all fifteen fit


def test_a_twenty_line_fix_and_retry_holds_the_lines_that_fit_and_says_so() -> None:
    context = _expense_context(lines=20)
    line = {"account": ("acc-1", "Travel"), "tax_rate": ("tax-1", "20%"), "net": "10.00", "tax": "2.00"}
    view = expense_modal.expense_modal(context, today="2026-12-02", prefill={"lines": [line] * 20, "merchant": "Taxi"})
    assert block_kit.view_errors(view) == []
    ids = {b.get("block_id") for b in view["blocks"]}
    assert "line11_account" in ids and "line12_account" not in ids
    assert json.loads(view["private_metadata"])["lines"] == 12  # what the submission will hold
    assert "Lines 13–20 of this expense are not shown" in text_of(view)
    assert "they are sent again as they were" in text_of(view)


def test_the_lines_a_fix_and_retry_could_not_show_are_sent_again_as_they_were() -> None:
    lines = [{**expense_data(REFS)["lines"][0], "netAmount": Decimal(n)} for n in range(1, 21)]
    original = make_expense(REFS, lines=lines)
    fixed = make_expense(REFS, id=original.id, lines=lines[:12], merchantName="Fixed Taxi")
    kept = _with_lines_not_shown(fixed, original, shown=12)
    assert [line.net_amount for line in kept.lines] == [Decimal(n) for n in range(1, 21)]
    assert kept.merchant_name == "Fixed Taxi"
    assert _with_lines_not_shown(fixed, make_expense(REFS, lines=lines[:12]), shown=12) == fixed
    with pytest.raises(FormErrors) as moved:
        _with_lines_not_shown(make_expense(REFS, lines=lines[:12], currency="EUR"), original, shown=12)
    assert moved.value.errors == {"currency": "Lines 13–20, not shown here, are in GBP: keep GBP."}


def test_a_link_message_for_more_software_than_a_message_holds_caps_the_buttons() -> None:
    link = m.AuthLinkEntry(id="l1", software="XERO", name="Xero", url="https://x.example/a", expires_at=None)
    built = connections.auth_links_message(m.AuthLinks(company_name="Acme", user_id="UADMIN", links=[link] * 60))
    assert message_problems(built) == []
    assert "…and 13 more" in text_of({"blocks": built[1]})


def test_shortening_never_cuts_an_escape_in_two() -> None:
    for limit in range(1, 30):
        shortened = text.escape("&<>" * 20, limit)
        assert len(shortened) <= limit and shortened.endswith("…")
        body = shortened.removesuffix("…")
        assert body.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "") == ""
    assert text.escape("fits & fine", 20) == "fits &amp; fine"


# --------------------------------------------------------------------------- any input, every builder

# Outside text as it comes: short or very long, with mrkdwn's specials, emoji and other scripts.
PIECES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("<>&*_`~"))
TEXTS = st.one_of(
    PIECES.filter(bool).map(lambda t: t[:60]),
    st.builds(lambda piece, times: (piece * times)[:6000], PIECES.filter(bool), st.integers(1, 3000)),
)
IDS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=40)
USERS = st.sampled_from(["UADMIN", "W0LONGER1"]) | TEXTS
TOTALS = st.sampled_from(["£1,481.40", "$0.00", "¥1,000,000,000", "BHD 1.234"])
DATES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
STATUSES = st.sampled_from(["CONNECTED", "DISCONNECTED", "ERROR"])
STATES = st.sampled_from([("waiting", None), ("sending", None), ("accepted", "SYNCED"), ("accepted", "FAILED")])


def _expense_context(**changes: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "company_id": "co",
        "company_name": "Acme",
        "channel_id": "C0ACME",
        "connections": [{"id": "a", "name": "Xero", "base_currency": "GBP"}],
        "connection_id": "a",
        "expense_types": ["Payment", "DirectCost"],
        "contact_types": ["Supplier", "Customer"],
        "bank_account": ["bank-1", "Current account"],
        "receipt_file_ids": ["F1"],
        "lines": 1,
        "retry_of": None,
    }
    return {**context, **changes}


service_connections = st.builds(
    ServiceConnection,
    id=IDS,
    company_id=IDS,
    integration_key=st.just("XERO"),
    platform_name=TEXTS,
    status=st.sampled_from(list(ConnectionStatus)),
    created_at=DATES,
    updated_at=DATES,
    error=st.none() | st.builds(ConnectionErrorInfo, code=st.just("x"), message=TEXTS),
)
home_companies = st.builds(
    HomeCompany,
    name=TEXTS,
    channel_ids=st.lists(IDS.map(lambda i: "C" + i.replace("-", "")), max_size=30).map(tuple),
    connections=st.lists(
        st.builds(HomeConnection, software_name=TEXTS, status=STATUSES | TEXTS, error_message=st.none() | TEXTS),
        max_size=12,
    ).map(tuple),
)
recent_expenses = st.lists(
    st.builds(
        lambda merchant, total, state: m.ExpenseMessage(
            expense_id="e-1", user_id="UADMIN", merchant=merchant, total=total, state=state[0], status=state[1]
        ),
        st.none() | TEXTS,
        TOTALS,
        STATES,
    ),
    max_size=40,
)
outcomes = st.builds(
    lambda merchant, total, status, error, user: m.ExpenseOutcome(
        merchant=merchant, total=total, status=status, error_message=error, expense_id="e-1", user_id=user
    ),
    st.none() | TEXTS,
    TOTALS,
    st.sampled_from(["SYNCED", "FAILED"]),
    st.none() | TEXTS,
    USERS,
)
links = st.builds(
    lambda name, state, software: m.AuthLinkEntry(
        id="l-1",
        software=software,
        name=name,
        url="https://sandbox.example/authorize?token=abc",
        expires_at="2026-12-09T10:00:00Z",
        state=state,
    ),
    TEXTS,
    st.sampled_from(["pending", "connected", "expired"]),
    st.sampled_from(["XERO", "SAGE", "QUICKBOOKS", "QUICKBOOKS_DESKTOP"]),
)
batches = st.builds(
    BatchSummary,
    batch_id=st.none() | IDS,
    expenses=st.integers(0, 500),
    synced=st.integers(0, 500),
    failed=st.integers(0, 500),
    waiting=st.integers(0, 500),
    updated_at=DATES,
)
modal_lines = st.builds(
    lambda account, tax, net, tracking: {
        "account": ("acc-1", account),
        "tax_rate": ("tax-1", tax),
        "net": net,
        "tax": "0.00",
        "tracking": [("trk-1", t) for t in tracking],
        "invoice_to": ("cus-1", account),
    },
    TEXTS,
    TEXTS,
    TEXTS,
    st.lists(TEXTS, max_size=10),
)

MESSAGE_BUILDERS: dict[str, tuple[Callable[..., tuple[str, list[dict[str, Any]]]], st.SearchStrategy[Any]]] = {
    "company_registered": (
        announcements.company_registered,
        st.fixed_dictionaries({"user_id": USERS, "company_name": TEXTS, "company_id": TEXTS}).map(
            m.CompanyRegistered.model_validate
        ),
    ),
    "company_linked": (
        announcements.company_linked,
        st.fixed_dictionaries({"user_id": USERS, "company_name": TEXTS, "company_id": TEXTS}).map(
            m.CompanyLinked.model_validate
        ),
    ),
    "auth_links": (
        connections.auth_links_message,
        st.fixed_dictionaries({"company_name": TEXTS, "user_id": USERS, "links": st.lists(links, max_size=60)}).map(
            m.AuthLinks.model_validate
        ),
    ),
    "link_connected": (
        connections.link_connected,
        st.fixed_dictionaries({"software_name": TEXTS, "company_name": TEXTS, "command": TEXTS}).map(
            m.LinkConnected.model_validate
        ),
    ),
    "link_expired": (
        connections.link_expired,
        st.fixed_dictionaries({"software_name": TEXTS, "company_name": TEXTS, "command": TEXTS}).map(
            m.LinkExpired.model_validate
        ),
    ),
    "connection_restored": (
        connections.connection_restored,
        st.fixed_dictionaries(
            {"software_name": TEXTS, "company_name": TEXTS, "command": TEXTS, "status": STATUSES}
        ).map(m.ConnectionRestored.model_validate),
    ),
    "connection_lost": (
        connections.connection_lost,
        st.fixed_dictionaries(
            {
                "software_name": TEXTS,
                "company_name": TEXTS,
                "command": TEXTS,
                "status": st.sampled_from(["ERROR", "DISCONNECTED"]),
                "error_message": st.none() | TEXTS,
            }
        ).map(m.ConnectionLost.model_validate),
    ),
    "disconnected_by_user": (
        connections.disconnected_by_user,
        st.fixed_dictionaries({"user_id": USERS, "software_name": TEXTS, "company_name": TEXTS, "command": TEXTS}).map(
            m.DisconnectedByUser.model_validate
        ),
    ),
    "expense_message": (
        expense_messages.expense_message,
        st.builds(
            lambda user, merchant, total, state, accounting, error: m.ExpenseMessage(
                user_id=user,
                merchant=merchant,
                total=total,
                state=state[0],
                status=state[1],
                accounting_id=accounting,
                error_message=error,
                expense_id="e-1",
            ),
            USERS,
            st.none() | TEXTS,
            TOTALS,
            STATES,
            st.none() | TEXTS,
            st.none() | TEXTS,
        ),
    ),
    "invite_needed": (
        announcements.invite_needed,
        st.fixed_dictionaries({"channel_id": IDS.map("C{}".format) | TEXTS}).map(m.InviteNeeded.model_validate),
    ),
    "receipt_offer": (
        receipts.receipt_offer,
        st.fixed_dictionaries({"file_name": TEXTS, "file_id": IDS}).map(m.ReceiptOffer.model_validate),
    ),
    "receipt_note": (
        receipts.receipt_note,
        st.fixed_dictionaries({"text": TEXTS}).map(m.ReceiptRefused.model_validate),
    ),
    "receipt_duplicate": (
        receipts.receipt_duplicate,
        st.fixed_dictionaries(
            {
                "file_name": TEXTS,
                "expense_id": IDS,
                "merchant": st.none() | TEXTS,
                "total": TEXTS,
                "issue_date": st.none() | TEXTS,
                "user_id": IDS,
                "same_bytes": st.booleans(),
            }
        ).map(m.ReceiptDuplicate.model_validate),
    ),
    "expense_outcome": (
        expense_messages.expense_outcome,
        outcomes.map(lambda o: o.model_copy(update={"accounting_id": o.merchant})),
    ),
    "outcome_summary": (
        expense_messages.outcome_summary,
        st.fixed_dictionaries({"outcomes": st.lists(outcomes, min_size=1, max_size=60)}).map(
            m.OutcomeSummary.model_validate
        ),
    ),
}


def _check_message(built: tuple[str, list[dict[str, Any]]]) -> None:
    assert message_problems(built) == []


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(MESSAGE_BUILDERS))
def test_every_announcement_builder_builds_only_what_slack_accepts(name: str) -> None:
    builder, payloads = MESSAGE_BUILDERS[name]

    @FAST
    @given(payload=payloads)
    def check(payload: Any) -> None:
        _check_message(builder(payload))

    check()


@FAST
@given(company=TEXTS, found=st.lists(service_connections, max_size=60))
def test_connections_list_any_input(company: str, found: list[ServiceConnection]) -> None:
    _check_message(connections.connections_list(company, found))


@FAST
@given(company=TEXTS, software=TEXTS, connection_id=IDS)
def test_disconnect_messages_any_input(company: str, software: str, connection_id: str) -> None:
    _check_message(connections.disconnect_confirmation(company, software, connection_id))
    _check_message(connections.disconnect_done(company, software))


@FAST
@given(company=TEXTS, found=st.lists(batches, max_size=60))
def test_status_list_any_input(company: str, found: list[BatchSummary]) -> None:
    _check_message(expense_messages.status_list(company, found))


@FAST
@given(values=st.dictionaries(st.sampled_from(["name", "what", "problems"]), TEXTS, min_size=1))
def test_refusals_any_input(values: dict[str, str]) -> None:
    template = "We could not do it for *{name}*: {what} ({problems})."
    _check_message(answers.refusal(Refusal(template, **{k: values.get(k, "") for k in ("name", "what", "problems")})))
    _check_message(answers.refusal(next(iter(values.values()))))


@FAST
@given(service=TEXTS, software=TEXTS)
def test_usage_any_input(service: str, software: str) -> None:
    _check_message(answers.usage(service, software))


@FAST
@given(companies=st.lists(home_companies, max_size=60), recent=recent_expenses)
def test_home_view_any_input(companies: list[HomeCompany], recent: list[m.ExpenseMessage]) -> None:
    assert block_kit.view_errors(home.home_view(companies, recent), home=True) == []


@FAST
@given(
    company=TEXTS,
    names=st.lists(TEXTS, min_size=1, max_size=120),
    chosen=st.booleans(),
    lines=st.integers(1, 40),
    currency=st.sampled_from(["GBP", "EUR", "JPY"]),
    prefill_lines=st.lists(modal_lines, max_size=40),
    merchant=TEXTS,
    bank=TEXTS,
)
def test_expense_modal_any_input(
    company: str,
    names: list[str],
    chosen: bool,
    lines: int,
    currency: str,
    prefill_lines: list[dict[str, Any]],
    merchant: str,
    bank: str,
) -> None:
    connections = [{"id": f"c{n}", "name": name, "base_currency": "GBP"} for n, name in enumerate(names)]
    context = _expense_context(
        company_name=company,
        connections=connections,
        connection_id="c0" if chosen else None,
        lines=lines,
        bank_account=["bank-1", bank],
    )
    prefill = {"merchant": merchant, "lines": prefill_lines, "contact": ("sup-1", merchant), "notes": merchant}
    duplicate = {"merchant": merchant, "total": merchant, "issue_date": merchant, "user_id": "U1", "same_bytes": True}
    receipt = {"file_name": merchant, "state": "unreadable", "problem": merchant, "duplicate": duplicate}
    for built in (
        expense_modal.expense_modal(context, today="2026-12-02", currency=currency),
        expense_modal.expense_modal(context, today="2026-12-02", prefill=prefill),
        expense_modal.expense_modal(context, today="2026-12-02", prefill=prefill, receipt=receipt),
    ):
        assert block_kit.view_errors(built) == []


@FAST
@given(
    expenses=st.lists(
        st.fixed_dictionaries({"merchant": st.none() | TEXTS, "total": TOTALS, "date": st.just("2026-12-02")}),
        max_size=150,
    ),
    file_id=IDS,
)
def test_attach_modal_any_input(expenses: list[dict[str, Any]], file_id: str) -> None:
    chosen = [{**e, "expense_id": f"e{n}"} for n, e in enumerate(expenses)]
    assert block_kit.view_errors(receipts.attach_modal(file_id, chosen)) == []


@FAST
@given(channel=IDS, service=TEXTS)
def test_register_modal_any_input(channel: str, service: str) -> None:
    assert block_kit.view_errors(register_modal.register_modal(channel, service)) == []
