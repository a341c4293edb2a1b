"""The Codat adapter of the expense-sync port, over real HTTP to the fake Codat (held to Codat's own spec).

Every test runs against a fresh fake whose syncs never finish on their own (``processing_seconds`` is long):
a test ends syncs with ``finish_syncs()`` when it wants them ended, so nothing depends on timing. The fake's
fixture fails the test if any request the adapter sent, or any answer the fake gave, broke Codat's spec.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar, cast

import pytest

from apiclient.retry import RetryPolicy
from bot.backend import OpenBatch, Rejected, ServiceConnection
from bot.codat_backend import CodatBackend, batch_from_sync, sync_failed, sync_finished
from codat.client import CodatClient
from codat.models import CompanySyncStatus, SyncTransaction
from sync2books.models import (
    Account,
    AccountType,
    BankAccount,
    BatchCounts,
    BatchStatus,
    CompanyConfig,
    ConnectionStatus,
    ContactRef,
    ContactType,
    Customer,
    Expense,
    ExpenseLine,
    ExpenseStatus,
    ExpenseType,
    InvoiceTo,
    Ref,
    ReferenceKind,
    Supplier,
    SyncBatch,
    SyncError,
    TaxRate,
    TrackingCategory,
    TrackingDataType,
    TrackingRef,
    WireModel,
)
from tests.support.fake_codat import REFUSE_MESSAGE, CodatRequest, FakeCodat, running_fake_codat

W = TypeVar("W", bound=WireModel)

# Long enough that no sync ends on its own during a test: tests end them with finish_syncs().
PROCESSING_SECONDS = 120.0
MB = 1024 * 1024
SUPPLIER = ContactRef(id="sup-004", type=ContactType.SUPPLIER)


@pytest.fixture
def fake() -> Iterator[FakeCodat]:
    with running_fake_codat(processing_seconds=PROCESSING_SECONDS) as running:
        yield running


@pytest.fixture
async def backend(fake: FakeCodat) -> AsyncIterator[CodatBackend]:
    codat = CodatBackend(CodatClient(fake.url, fake.api_key, retry=RetryPolicy(backoff_base=0.01)))
    yield codat
    await codat.aclose()


# ---------------------------------------------------------------------------------------------- helpers


async def linked_company(backend: CodatBackend, fake: FakeCodat, name: str = "Acme Ltd") -> tuple[str, str]:
    """A company whose Xero link the user has authorized, seen once (which makes its partner expense connection)."""
    company = await backend.create_company(name, None)
    link = (await backend.auth_links(company.id, ["gbol"]))[0]
    assert link.connection_id is not None
    fake.complete_link(company.id, link.connection_id)
    (connection,) = await backend.connections(company.id)
    assert connection.status == ConnectionStatus.CONNECTED
    return company.id, connection.id


def make_expense(
    *,
    expense_type: ExpenseType = ExpenseType.PAYMENT,
    merchant: str = "Pret A Manger",
    contact: ContactRef | None = SUPPLIER,
) -> Expense:
    return Expense(
        id=str(uuid.uuid4()),
        type=expense_type,
        issue_date=date(2024, 5, 21),
        currency="GBP",
        merchant_name=merchant,
        contact_ref=contact,
        bank_account_ref=Ref(id="acc-091"),
        lines=[
            ExpenseLine(
                net_amount=Decimal("1234.50"),
                tax_amount=Decimal("246.90"),
                tax_rate_ref=Ref(id="INPUT2"),
                account_ref=Ref(id="acc-429"),
                tracking_refs=[TrackingRef(id="DEPARTMENT_1", data_type=TrackingDataType.TRACKING_CATEGORIES)],
                invoice_to=InvoiceTo(id="cus-002"),
            )
        ],
    )


def calls(fake: FakeCodat, method: str, path_end: str, since: int = 0) -> list[CodatRequest]:
    """The requests the fake received (from index ``since`` on) with this method and a path ending so."""
    return [r for r in fake.requests[since:] if r.method == method and r.path.endswith(path_end)]


def typed(items: Sequence[WireModel], model: type[W]) -> list[W]:
    assert all(isinstance(item, model) for item in items), [type(item).__name__ for item in items]
    return cast(list[W], list(items))


def status_of(code: int, *, error_message: str | None = None, sync_id: str = "sync-1") -> CompanySyncStatus:
    """A sync status as Codat's spec shapes it (camelCase)."""
    return CompanySyncStatus.model_validate(
        {
            "companyId": "8a210b68-6988-11ed-a1eb-0242ac120002",
            "syncId": sync_id,
            "syncStatusCode": code,
            "syncStatus": {1000: "InProgress", 2000: "Complete", 2040: "Complete"}.get(code, "Failed"),
            "errorMessage": error_message,
            "syncExceptionMessage": None,
            "syncUtc": "2024-05-21T10:15:00Z",
            "dataPushed": code == 2000,
        }
    )


def transaction_of(transaction_id: str, status: str, message: str | None = None) -> SyncTransaction:
    return SyncTransaction.model_validate(
        {"transactionId": transaction_id, "status": status, "message": message, "integrationType": "expenses"}
    )


def only(connections: list[ServiceConnection]) -> ServiceConnection:
    assert len(connections) == 1, connections
    return connections[0]


# ---------------------------------------------------------------------------------------------- 1. connections


async def test_a_link_is_a_pending_auth_connection_that_is_reused_while_it_waits_and_never_listed(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company = await backend.create_company("Acme Ltd", None)

    link = (await backend.auth_links(company.id, ["gbol"]))[0]
    (pending,) = fake.connections(company.id)
    assert (pending["status"], pending["integrationKey"], pending["sourceType"]) == (
        "PendingAuth",
        "gbol",
        "Accounting",
    )
    assert (link.url, link.expires_at, link.connection_id) == (pending["linkUrl"], None, pending["id"])

    again = (await backend.auth_links(company.id, ["gbol"]))[0]
    assert again == link
    assert [c["id"] for c in fake.connections(company.id)] == [pending["id"]]
    assert len(calls(fake, "POST", "/connections")) == 1

    # A link is not a connection: nothing is reported, and no partner expense connection is made for it.
    assert await backend.connections(company.id) == []
    assert calls(fake, "POST", "/partnerExpense") == []


async def test_an_authorized_link_is_a_connected_xero_connection_with_one_partner_expense_connection_beside_it(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company = await backend.create_company("Acme Ltd", None)
    link = (await backend.auth_links(company.id, ["gbol"]))[0]
    assert link.connection_id is not None
    fake.complete_link(company.id)

    connection = only(await backend.connections(company.id))
    assert (
        connection.id,
        connection.company_id,
        connection.integration_key,
        connection.platform_name,
        connection.status,
        connection.base_currency,
        connection.error,
    ) == (link.connection_id, company.id, "gbol", "Xero", ConnectionStatus.CONNECTED, "GBP", None)
    assert connection.updated_at >= connection.created_at

    for _ in range(3):
        assert [c.id for c in await backend.connections(company.id)] == [link.connection_id]
    partners = [c for c in fake.connections(company.id) if c["sourceType"] == "Expense"]
    assert len(partners) == 1 and partners[0]["status"] == "Linked"
    assert len(calls(fake, "POST", "/partnerExpense")) == 1
    # The base currency is asked once per company, not on every look.
    assert len(calls(fake, "GET", "/data/info")) == 1


async def test_a_company_keeping_its_books_in_another_currency_reports_that_currency(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company = await backend.create_company("Fjord AS", None)
    (await backend.auth_links(company.id, ["gbol"]))[0]
    fake.complete_link(company.id)
    fake.set_base_currency(company.id, "NOK")

    assert only(await backend.connections(company.id)).base_currency == "NOK"


async def test_a_deauthorized_connection_is_in_error_with_a_plain_message(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)

    fake.set_connection_status(company_id, connection_id, "Deauthorized")

    connection = only(await backend.connections(company_id))
    assert (connection.id, connection.status) == (connection_id, ConnectionStatus.ERROR)
    assert connection.error is not None
    assert connection.error.code == "deauthorized"
    message = connection.error.message
    assert message == "Xero no longer authorizes Codat to write to the books"
    assert "deauthorized" not in message.lower() and not re.search(r"\d", message)


async def test_disconnecting_unlinks_the_connection_and_answers_it_disconnected(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)

    answer = await backend.disconnect(company_id, connection_id)

    (patch,) = calls(fake, "PATCH", f"/connections/{connection_id}")
    assert patch.json == {"status": "Unlinked"}
    (accounting,) = [c for c in fake.connections(company_id) if c["id"] == connection_id]
    assert accounting["status"] == "Unlinked"
    assert (answer.id, answer.company_id, answer.status, answer.error) == (
        connection_id,
        company_id,
        ConnectionStatus.DISCONNECTED,
        None,
    )
    assert only(await backend.connections(company_id)).status == ConnectionStatus.DISCONNECTED


# ---------------------------------------------------------------------------------------------- 2. reference data


async def test_reference_data_of_every_kind_is_mapped_from_one_mapping_options_answer(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)

    accounts = typed(await backend.reference(company_id, connection_id, ReferenceKind.ACCOUNTS), Account)
    assert [a.id for a in accounts] == ["acc-400", "acc-420", "acc-429", "acc-461", "acc-493", "acc-310"]
    assert {(a.type, a.currency, a.is_bank_account) for a in accounts} == {(AccountType.EXPENSE, "GBP", False)}
    by_id = {a.id: a for a in accounts}
    assert (by_id["acc-429"].name, by_id["acc-429"].nominal_code) == ("General Expenses", "429")
    assert by_id["acc-310"].nominal_code is None

    banks = typed(await backend.reference(company_id, connection_id, ReferenceKind.BANK_ACCOUNTS), BankAccount)
    assert [(b.id, b.name, b.currency) for b in banks] == [
        ("acc-090", "Business Current Account", "GBP"),
        ("acc-091", "Company Credit Card", "GBP"),
    ]

    rates = typed(await backend.reference(company_id, connection_id, ReferenceKind.TAX_RATES), TaxRate)
    assert [(t.id, t.code, t.effective_rate) for t in rates] == [
        ("INPUT2", "INPUT2", Decimal("20")),
        ("RRINPUT", "RRINPUT", Decimal("5")),
        ("NONE", "No VAT", Decimal("0")),  # Codat gives NONE no code: its name stands in
    ]
    assert all(type(t.effective_rate) is Decimal for t in rates)

    tracking = typed(
        await backend.reference(company_id, connection_id, ReferenceKind.TRACKING_CATEGORIES), TrackingCategory
    )
    assert [(t.id, t.name, t.parent_id) for t in tracking] == [
        ("DEPARTMENTS", "Departments", None),
        ("DEPARTMENT_1", "Sales", "DEPARTMENTS"),
        ("DEPARTMENT_2", "Engineering", "DEPARTMENTS"),
        ("DEPARTMENT_3", "Operations", "DEPARTMENTS"),
    ]

    # Four kinds, one answer: mapping options are fresh for a minute.
    assert len(calls(fake, "GET", "/sync/expenses/mappingOptions")) == 1

    suppliers = typed(await backend.reference(company_id, connection_id, ReferenceKind.SUPPLIERS), Supplier)
    assert [(s.id, s.name) for s in suppliers] == [
        ("sup-001", "Card Expenses Supplier"),
        ("sup-002", "Amazon UK"),
        ("sup-003", "Trainline"),
        ("sup-004", "Pret A Manger"),
        ("sup-005", "Staples"),
    ]
    customers = typed(await backend.reference(company_id, connection_id, ReferenceKind.CUSTOMERS), Customer)
    assert [(c.id, c.name) for c in customers] == [
        ("cus-001", "Rebillable Expenses"),
        ("cus-002", "Acme Retail Ltd"),
        ("cus-003", "Globex Corporation"),
        ("cus-004", "Initech"),
        ("cus-005", "Umbrella Holdings"),
    ]
    assert len(calls(fake, "GET", "/sync/expenses/mappingOptions")) == 1


async def test_the_company_configuration_is_the_port_s_defaults(backend: CodatBackend, fake: FakeCodat) -> None:
    company_id, _ = await linked_company(backend, fake)

    assert await backend.company_config(company_id) == CompanyConfig(
        bank_account_ref=Ref(id="acc-091"), supplier_ref=Ref(id="sup-001"), customer_ref=Ref(id="cus-001")
    )

    fake.set_config(company_id, bank_account="acc-090", supplier="sup-003")
    assert await backend.company_config(company_id) == CompanyConfig(
        bank_account_ref=Ref(id="acc-090"), supplier_ref=Ref(id="sup-003"), customer_ref=Ref(id="cus-001")
    )

    # Codat answers 404 while no configuration has been set: then there are no defaults.
    fake.fail_next(404, path_contains="/sync/expenses/config")
    assert await backend.company_config(company_id) == CompanyConfig()


# ---------------------------------------------------------------------------------------------- 3. expenses


async def test_expenses_are_pushed_as_one_sync_with_exact_amounts_and_codat_s_shapes(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    payment, refund = make_expense(), make_expense(expense_type=ExpenseType.REFUND)

    accepted = await backend.create_expenses(company_id, connection_id, [payment, refund])

    (sync,) = fake.syncs(company_id)
    assert accepted.sync_batch_id == sync["syncId"]
    assert accepted.status == ExpenseStatus.QUEUED
    assert [(e.id, e.status, e.sync_batch_id) for e in accepted.expenses] == [
        (payment.id, ExpenseStatus.QUEUED, sync["syncId"]),
        (refund.id, ExpenseStatus.QUEUED, sync["syncId"]),
    ]

    (post,) = calls(fake, "POST", "/sync/expenses/expense-transactions")
    assert isinstance(post.json, list)
    body: list[dict[str, Any]] = post.json
    assert [(t["id"], t["type"]) for t in body] == [(payment.id, "Payment"), (refund.id, "Refund")]
    first = body[0]
    line = first["lines"][0]
    assert str(line["netAmount"]) == "1234.50" and str(line["taxAmount"]) == "246.90"
    assert first["issueDate"] == "2024-05-21T00:00:00Z"
    assert first["currency"] == "GBP"
    assert first["contactRef"] == {"id": "sup-004", "type": "Supplier"}
    assert first["bankAccountRef"] == {"id": "acc-091"}
    assert line["taxRateRef"] == {"id": "INPUT2"} and line["accountRef"] == {"id": "acc-429"}
    assert line["trackingRefs"] == [{"id": "DEPARTMENT_1", "dataType": "trackingCategories"}]
    assert line["invoiceTo"] == {"id": "cus-002", "type": "customer"}
    assert "postAsDraft" not in first  # False is left out, as is every unset field
    assert {t["id"] for t in fake.transactions(company_id)} == {payment.id, refund.id}


async def test_a_direct_cost_or_a_customer_contact_is_refused_in_plain_words_before_anything_is_sent(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    batch = [
        make_expense(),
        make_expense(expense_type=ExpenseType.DIRECT_COST),
        make_expense(contact=ContactRef(id="cus-002", type=ContactType.CUSTOMER)),
    ]

    with pytest.raises(Rejected) as refused:
        await backend.create_expenses(company_id, connection_id, batch)

    assert [(d.field, d.message) for d in refused.value.details] == [
        ("[1]", "Codat takes Payment, Refund, Reward or Chargeback expenses, not DirectCost"),
        ("[2]", "Codat takes only a supplier as the contact"),
    ]
    for detail in refused.value.details:
        assert detail.message[0].isupper() and "_" not in detail.message
    assert calls(fake, "POST", "/sync/expenses/expense-transactions") == []
    assert fake.syncs(company_id) == []


async def test_a_lost_answer_retried_into_codat_s_duplicate_refusal_still_answers_the_original_sync(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expense = make_expense()
    fake.fail_next(503, after_handling=True, path_contains="expense-transactions")

    accepted = await backend.create_expenses(company_id, connection_id, [expense])

    (sync,) = fake.syncs(company_id)
    (transaction,) = fake.transactions(company_id)
    assert accepted.sync_batch_id == sync["syncId"] == transaction["syncId"]
    assert transaction["id"] == expense.id
    # Sent twice: the answer to the first was lost, the second was refused as a duplicate.
    assert [r.status for r in calls(fake, "POST", "/sync/expenses/expense-transactions")] == [503, 400]


async def test_an_id_codat_already_booked_is_refused_by_its_position_in_the_batch(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    booked = make_expense()
    await backend.create_expenses(company_id, connection_id, [booked])
    fake.finish_syncs()
    assert [t["status"] for t in fake.transactions(company_id)] == ["Completed"]

    with pytest.raises(Rejected) as refused:
        await backend.create_expenses(company_id, connection_id, [make_expense(), booked, make_expense()])

    assert [(d.field, d.message) for d in refused.value.details] == [
        ("[1]", "A transaction with this id has already been pushed")
    ]
    assert len(fake.syncs(company_id)) == 1
    assert len(fake.transactions(company_id)) == 1


# ---------------------------------------------------------------------------------------------- 4. batch outcomes


async def test_a_running_sync_is_a_processing_batch(backend: CodatBackend, fake: FakeCodat) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expenses = [make_expense(), make_expense()]
    accepted = await backend.create_expenses(company_id, connection_id, expenses)

    batch = await backend.sync_batch(company_id, accepted.sync_batch_id)

    assert [s["syncStatusCode"] for s in fake.syncs(company_id)] == [1000]
    assert (batch.id, batch.company_id, batch.status) == (accepted.sync_batch_id, company_id, BatchStatus.PROCESSING)
    assert not batch.status.is_terminal and batch.completed_at is None
    assert batch.counts == BatchCounts(total=2, synced=0, failed=0)
    assert [(e.id, e.status, e.error) for e in batch.expenses] == [
        (expenses[0].id, ExpenseStatus.PROCESSING, None),
        (expenses[1].id, ExpenseStatus.PROCESSING, None),
    ]


async def test_a_sync_whose_transactions_all_completed_is_a_completed_batch(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expenses = [make_expense(), make_expense(expense_type=ExpenseType.REFUND)]
    accepted = await backend.create_expenses(company_id, connection_id, expenses)
    fake.finish_syncs()

    batch = await backend.sync_batch(company_id, accepted.sync_batch_id)

    assert batch.status == BatchStatus.COMPLETED and batch.completed_at is not None
    assert batch.counts == BatchCounts(total=2, synced=2, failed=0)
    assert [(e.id, e.status, e.error) for e in batch.expenses] == [(e.id, ExpenseStatus.SYNCED, None) for e in expenses]


async def test_a_transaction_the_platform_refuses_fails_with_codat_s_message(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    refused = make_expense(merchant="REFUSE Taxi")
    accepted = await backend.create_expenses(company_id, connection_id, [refused])
    fake.finish_syncs()

    batch = await backend.sync_batch(company_id, accepted.sync_batch_id)

    assert batch.status == BatchStatus.FAILED
    assert batch.counts == BatchCounts(total=1, synced=0, failed=1)
    (item,) = batch.expenses
    assert (item.id, item.status, item.error) == (
        refused.id,
        ExpenseStatus.FAILED,
        SyncError(code="validation_error", message=REFUSE_MESSAGE),
    )


async def test_a_sync_with_one_refused_transaction_among_booked_ones_is_partially_failed(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expenses = [make_expense(), make_expense(merchant="REFUSE Taxi"), make_expense()]
    accepted = await backend.create_expenses(company_id, connection_id, expenses)
    fake.finish_syncs()

    batch = await backend.sync_batch(company_id, accepted.sync_batch_id)

    assert batch.status == BatchStatus.PARTIALLY_FAILED
    assert batch.counts == BatchCounts(total=3, synced=2, failed=1)
    assert [e.status for e in batch.expenses] == [ExpenseStatus.SYNCED, ExpenseStatus.FAILED, ExpenseStatus.SYNCED]
    assert batch.expenses[1].error == SyncError(code="validation_error", message=REFUSE_MESSAGE)


@pytest.mark.parametrize(
    ("code", "message", "error_code"),
    [
        (4001, "Xero has deauthorized Codat: the connection must be authorized again", "sync_setup_error"),
        (5000, "Xero is unavailable right now", "sync_failed"),
    ],
)
async def test_a_failed_sync_fails_every_expense_with_the_sync_s_message_and_kind(
    backend: CodatBackend, fake: FakeCodat, code: int, message: str, error_code: str
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expenses = [make_expense(), make_expense()]
    fake.fail_next_sync(code, message)
    accepted = await backend.create_expenses(company_id, connection_id, expenses)
    fake.finish_syncs()

    batch = await backend.sync_batch(company_id, accepted.sync_batch_id)

    assert [s["syncStatusCode"] for s in fake.syncs(company_id)] == [code]
    assert batch.status == BatchStatus.FAILED
    assert batch.counts == BatchCounts(total=2, synced=0, failed=2)
    assert [(e.id, e.status, e.error) for e in batch.expenses] == [
        (e.id, ExpenseStatus.FAILED, SyncError(code=error_code, message=message)) for e in expenses
    ]


async def test_changed_batches_answers_only_the_open_syncs_that_ended_oldest_first_in_few_requests(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    first_id, first_connection = await linked_company(backend, fake, "First Ltd")
    second_id, second_connection = await linked_company(backend, fake, "Second Ltd")
    # Ended in this order: not-open (first company), early (second company), late (first company).
    await backend.create_expenses(first_id, first_connection, [make_expense()])
    fake.finish_syncs()
    early = await backend.create_expenses(second_id, second_connection, [make_expense(merchant="REFUSE Taxi")])
    fake.finish_syncs()
    late = await backend.create_expenses(first_id, first_connection, [make_expense()])
    fake.finish_syncs()
    running = await backend.create_expenses(first_id, first_connection, [make_expense()])
    open_batches = [
        OpenBatch(late.sync_batch_id, first_id, first_connection),
        OpenBatch(running.sync_batch_id, first_id, first_connection),
        OpenBatch(early.sync_batch_id, second_id, second_connection),
    ]
    before = len(fake.requests)

    found = [batch async for batch in backend.changed_batches(None, open_batches)]

    assert [(b.id, b.company_id, b.connection_id, b.status) for b in found] == [
        (early.sync_batch_id, second_id, second_connection, BatchStatus.FAILED),
        (late.sync_batch_id, first_id, first_connection, BatchStatus.COMPLETED),
    ]
    assert found[0].updated_at < found[1].updated_at
    listings = calls(fake, "GET", "/sync/expenses/syncs/list/status", since=before)
    assert sorted(r.path for r in listings) == sorted(
        f"/companies/{c}/sync/expenses/syncs/list/status" for c in (first_id, second_id)
    )
    looked_at = calls(fake, "GET", "/transactions", since=before)
    assert sorted(r.path for r in looked_at) == sorted(
        [
            f"/companies/{first_id}/sync/expenses/syncs/{late.sync_batch_id}/transactions",
            f"/companies/{second_id}/sync/expenses/syncs/{early.sync_batch_id}/transactions",
        ]
    )
    assert len(fake.requests) - before == 4


async def test_changed_batches_skips_a_company_it_cannot_look_at_and_answers_the_others(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    healthy_id, healthy_connection = await linked_company(backend, fake, "Healthy Ltd")
    failing_id, failing_connection = await linked_company(backend, fake, "Failing Ltd")
    done = await backend.create_expenses(healthy_id, healthy_connection, [make_expense()])
    also_done = await backend.create_expenses(failing_id, failing_connection, [make_expense()])
    fake.finish_syncs()
    unknown_company = str(uuid.uuid4())  # a company the fake never heard of (a uuid, as the spec wants)
    fake.fail_next(404, path_contains=failing_id)
    open_batches = [
        OpenBatch(also_done.sync_batch_id, failing_id, failing_connection),
        OpenBatch(str(uuid.uuid4()), unknown_company, str(uuid.uuid4())),
        OpenBatch(done.sync_batch_id, healthy_id, healthy_connection),
    ]
    before = len(fake.requests)

    found = [batch async for batch in backend.changed_batches(None, open_batches)]

    assert [(b.id, b.company_id, b.status) for b in found] == [(done.sync_batch_id, healthy_id, BatchStatus.COMPLETED)]
    refused = [r for r in fake.requests[before:] if r.status == 404]
    assert sorted(r.path for r in refused) == sorted(
        f"/companies/{c}/sync/expenses/syncs/list/status" for c in (failing_id, unknown_company)
    )


# ---------------------------------------------------------------------------------------------- 5. pure mapping


@pytest.mark.parametrize(
    ("code", "finished", "failed"),
    [(1000, False, False), (2000, True, False), (2040, True, False), (4001, True, True), (5000, True, True)],
)
def test_a_sync_status_code_says_whether_the_sync_ended_and_whether_it_failed(
    code: int, finished: bool, failed: bool
) -> None:
    status = status_of(code)
    assert (sync_finished(status), sync_failed(status)) == (finished, failed)


def test_a_finished_sync_whose_transaction_is_still_pending_stays_processing() -> None:
    batch = batch_from_sync(
        "company-1",
        "connection-1",
        status_of(2000),
        [transaction_of("t-1", "Completed"), transaction_of("t-2", "Pending")],
    )
    assert batch.status == BatchStatus.PROCESSING
    assert not batch.status.is_terminal and batch.completed_at is None
    assert [(e.id, e.status) for e in batch.expenses] == [
        ("t-1", ExpenseStatus.SYNCED),
        ("t-2", ExpenseStatus.PROCESSING),
    ]
    assert batch.counts == BatchCounts(total=2, synced=1, failed=0)
    assert (batch.id, batch.company_id, batch.connection_id) == ("sync-1", "company-1", "connection-1")


@pytest.mark.parametrize(("code", "error_code"), [(4001, "sync_setup_error"), (5000, "sync_failed")])
def test_a_failed_sync_fails_its_pending_transactions_with_the_sync_s_error_message(code: int, error_code: str) -> None:
    told = "The accounting platform refused the credentials"
    batch: SyncBatch = batch_from_sync(
        "company-1",
        "connection-1",
        status_of(code, error_message=told),
        [transaction_of("t-1", "Pending"), transaction_of("t-2", "Pending")],
    )
    assert batch.status == BatchStatus.FAILED and batch.completed_at is not None
    assert batch.counts == BatchCounts(total=2, synced=0, failed=2)
    assert [(e.id, e.status, e.error) for e in batch.expenses] == [
        (i, ExpenseStatus.FAILED, SyncError(code=error_code, message=told)) for i in ("t-1", "t-2")
    ]


# ---------------------------------------------------------------------------------------------- 6. receipts


def test_xero_takes_receipts_of_its_kinds_up_to_three_megabytes(backend: CodatBackend) -> None:
    rules = backend.receipt_rules("gbol")

    too_big = rules.problem("invoice.pdf", "application/pdf", 4 * MB)
    assert too_big is not None and "Xero" in too_big and "3 MB" in too_big and "4.0 MB" in too_big
    wrong_kind = rules.problem("setup.exe", "application/x-msdownload", 1000)
    assert wrong_kind is not None and "Xero" in wrong_kind and "setup.exe" in wrong_kind and "PDF" in wrong_kind
    assert rules.problem("receipt.png", "image/png", 1 * MB) is None


def test_quickbooks_desktop_takes_no_receipts_at_all(backend: CodatBackend) -> None:
    rules = backend.receipt_rules("pqsw")

    assert not rules.takes_receipts
    for name, content_type, size in (("receipt.png", "image/png", 1000), ("invoice.pdf", "application/pdf", 10)):
        problem = rules.problem(name, content_type, size, expense_type="Payment")
        assert problem is not None and "QuickBooks Desktop does not take receipts" in problem


def test_freeagent_takes_receipts_on_payments_only(backend: CodatBackend) -> None:
    rules = backend.receipt_rules("fbrh")

    refused = rules.problem("receipt.png", "image/png", 1000, expense_type="Refund")
    assert refused is not None and "FreeAgent takes receipts only on Payment expenses" in refused
    assert rules.problem("receipt.png", "image/png", 1000, expense_type="Payment") is None


def test_a_platform_without_limits_of_its_own_takes_receipts_up_to_ten_megabytes(backend: CodatBackend) -> None:
    rules = backend.receipt_rules("knfz")

    assert rules.max_bytes == 10 * MB
    assert rules.problem("receipt.pdf", "application/pdf", 10 * MB) is None
    too_big = rules.problem("receipt.pdf", "application/pdf", 10 * MB + 1)
    assert too_big is not None and "Sage Intacct" in too_big and "10 MB" in too_big


async def test_a_receipt_uploaded_once_the_transaction_is_booked_is_stored_whole(
    backend: CodatBackend, fake: FakeCodat
) -> None:
    company_id, connection_id = await linked_company(backend, fake)
    expense = make_expense()
    accepted = await backend.create_expenses(company_id, connection_id, [expense])
    fake.finish_syncs()
    content = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    digest = hashlib.sha256(content).hexdigest()

    attachment = await backend.upload_attachment(
        company_id, connection_id, accepted.sync_batch_id, expense.id, "receipt.png", content, "image/png"
    )

    (stored,) = fake.attachments
    assert (stored.company_id, stored.sync_id, stored.transaction_id) == (
        company_id,
        accepted.sync_batch_id,
        expense.id,
    )
    assert (stored.data, stored.sha256, stored.file_name, stored.content_type) == (
        content,
        digest,
        "receipt.png",
        "image/png",
    )
    assert (
        attachment.id,
        attachment.expense_id,
        attachment.file_name,
        attachment.content_type,
        attachment.size,
        attachment.sha256,
    ) == (stored.attachment_id, expense.id, "receipt.png", "image/png", len(content), digest)


# ---------------------------------------------------------------------------------------------- 7. names and ping


def test_a_company_name_with_characters_codat_refuses_is_told_which(backend: CodatBackend) -> None:
    problem = backend.company_name_problem("Café (UK)")

    assert problem is not None
    assert "“é”" in problem and "“(”" in problem and "“)”" in problem
    assert "“C”" not in problem and "“U”" not in problem
    assert backend.company_name_problem("Smith & Sons, Ltd.") is None


async def test_ping_counts_the_companies_on_the_api_key(backend: CodatBackend) -> None:
    await backend.create_company("Acme Ltd", None)

    assert await backend.ping() == "1 company on this API key"
