"""Expenses: validation, the idempotency table row by row, and batches reaching every terminal status."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sync2books.errors import (
    ConflictError,
    ConnectionNotConnectedError,
    NotFoundError,
    ValidationFailedError,
)
from sync2books.models import (
    BatchStatus,
    CompanyConfig,
    Connection,
    ConnectionStatus,
    Expense,
    ExpenseStatus,
    IntegrationKey,
    Ref,
)
from tests.support.expenses import LedgerRefs, expense_data, ledger_refs, make_expense, wait_for_batch
from tests.support.sandbox import TEST_KEY, SandboxServer, connect
from tests.support.sandbox_client import SandboxClient


@pytest.fixture
async def connection(client: SandboxClient) -> Connection:
    company = await client.create_company("Acme Ltd")
    return await connect(client, company, IntegrationKey.XERO)


@pytest.fixture
async def refs(client: SandboxClient, connection: Connection) -> LedgerRefs:
    return await ledger_refs(client, connection)


async def post_raw(client: SandboxClient, connection: Connection, body: Any) -> Any:
    return await client.request("POST", f"/expenses/{connection.id}", idempotent=True, json=body)


async def assert_nothing_stored(client: SandboxClient, connection: Connection, *ids: str) -> None:
    assert (await client.list_sync_batches(connection_id=connection.id)).total == 0
    for expense_id in ids:
        with pytest.raises(NotFoundError):
            await client.get_expense(connection.id, expense_id)


# --------------------------------------------------------------------------- the happy path


async def test_an_expense_is_stored_exactly_as_sent_and_synced(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    expense = make_expense(refs, currency="EUR", currencyRate=Decimal("0.876543219"), postAsDraft=True)
    accepted = await client.create_expenses(connection.id, [expense])
    assert accepted.status == ExpenseStatus.QUEUED
    assert [(e.id, e.status, e.sync_batch_id) for e in accepted.expenses] == [
        (expense.id, ExpenseStatus.QUEUED, accepted.sync_batch_id)
    ]
    batch = await wait_for_batch(client, accepted.sync_batch_id)
    assert batch.status == BatchStatus.COMPLETED
    assert (batch.counts.total, batch.counts.synced, batch.counts.failed) == (1, 1, 0)
    assert batch.started_at and batch.completed_at and batch.created_at <= batch.started_at <= batch.completed_at
    assert (batch.company_id, batch.connection_id) == (connection.company_id, connection.id)

    record = await client.get_expense(connection.id, expense.id)
    assert record.status == ExpenseStatus.SYNCED and record.sync_batch_id == batch.id
    assert record.accounting_id == batch.expenses[0].accounting_id
    assert record.expense == expense  # every field, decimals to the digit


async def test_a_single_object_body_is_one_expense(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    body = expense_data(refs)
    response = await post_raw(client, connection, body)
    assert response.status_code == 202
    assert [e["id"] for e in response.json()["expenses"]] == [body["id"]]


async def test_defaults_stand_in_for_a_missing_bank_account(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    data = expense_data(refs)
    del data["bankAccountRef"], data["contactRef"]
    alone = await client.create_expenses(connection.id, [Expense.model_validate(data)])
    failed = await wait_for_batch(client, alone.sync_batch_id)
    assert failed.status == BatchStatus.FAILED
    assert failed.expenses[0].error is not None and failed.expenses[0].error.code == "missing_bank_account"

    await client.put_company_config(connection.company_id, CompanyConfig(bank_account_ref=Ref(id=refs.bank_account)))
    retried = await client.create_expenses(connection.id, [Expense.model_validate(data)])
    assert (await wait_for_batch(client, retried.sync_batch_id)).status == BatchStatus.COMPLETED


# --------------------------------------------------------------------------- refused requests


async def test_a_body_that_is_not_json_or_not_expenses_is_a_400(
    sandbox: SandboxServer, client: SandboxClient, connection: Connection
) -> None:
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers) as raw:
        for content in (b"{not json", b"", b"12", b'"expense"', b"[1, 2", b"NaN", b"\xff\xfe"):
            answer = await raw.post(f"/expenses/{connection.id}", content=content)
            assert answer.status_code == 400, content
            assert answer.json()["error"]["code"] == "bad_request"
    await assert_nothing_stored(client, connection)


async def test_fifty_one_expenses_are_refused_and_fifty_accepted(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    too_many = [expense_data(refs) for _ in range(51)]
    with pytest.raises(ValidationFailedError) as refused:
        await post_raw(client, connection, too_many)
    assert [(d.field, d.message) for d in refused.value.details] == [("body", "must hold 1 to 50 expenses, not 51")]
    with pytest.raises(ValidationFailedError):
        await post_raw(client, connection, [])
    await assert_nothing_stored(client, connection, too_many[0]["id"])

    accepted = await post_raw(client, connection, too_many[:50])
    assert accepted.status_code == 202 and len(accepted.json()["expenses"]) == 50
    assert {e["syncBatchId"] for e in accepted.json()["expenses"]} == {accepted.json()["syncBatchId"]}


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("JPY", Decimal("1200.5"), "must be a whole number for JPY"),
        ("USD", Decimal("12.345"), "must have at most 2 decimal places for USD"),
        ("BHD", Decimal("1.2345"), "must have at most 3 decimal places for BHD"),
    ],
)
async def test_an_amount_finer_than_its_currency_is_refused(
    client: SandboxClient, connection: Connection, refs: LedgerRefs, currency: str, amount: Decimal, message: str
) -> None:
    data = expense_data(refs, currency=currency, currencyRate=Decimal(1))
    data["lines"][0]["netAmount"] = amount
    with pytest.raises(ValidationFailedError) as refused:
        await post_raw(client, connection, [data])
    assert [(d.field, d.message) for d in refused.value.details] == [("[0].lines[0].netAmount", message)]
    await assert_nothing_stored(client, connection, data["id"])


async def test_a_422_lists_every_problem_of_every_item(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    good = expense_data(refs)
    bad = expense_data(refs, type="Refund", issueDate="2026-02-30", currency="usd", merchantName="m" * 101)
    bad["postAsDraft"] = "true"
    bad["notes"] = 12
    bad["contactRef"] = {"id": "x", "type": "Employee"}
    bad["lines"][0].update(netAmount="10.00", taxAmount=Decimal("1.999"), accountRef={})
    bad["lines"][0]["trackingRefs"] = [{"id": "t", "dataType": "trackingCategories"}] * 11
    second_line = dict(expense_data(refs)["lines"][0], netAmount=Decimal(5), taxAmount=Decimal(-1))
    worse = expense_data(refs, id="not-a-uuid", currency="EUR", lines=[second_line])
    del worse["type"]
    with pytest.raises(ValidationFailedError) as refused:
        await post_raw(client, connection, [good, bad, worse, 7])
    problems = {(d.field, d.message) for d in refused.value.details}
    assert problems == {
        ("[1].type", "must be 'Payment' or 'DirectCost'"),
        ("[1].issueDate", "must be a real date written YYYY-MM-DD"),
        ("[1].currency", "must be an ISO 4217 currency code in upper case, like USD"),
        ("[1].merchantName", "must have at most 100 characters"),
        ("[1].contactRef.type", "must be 'Supplier' or 'Customer'"),
        ("[1].lines[0].netAmount", "must be a number"),
        ("[1].lines[0].accountRef.id", "is required"),
        ("[1].lines[0].trackingRefs", "must have at most 10 items after validation, not 11"),
        ("[1].notes", "must be a valid string"),
        ("[1].postAsDraft", "must be a valid boolean"),
        ("[2].id", "must be a UUID"),
        ("[2].type", "is required"),
        ("[2].lines[0].taxAmount", "must not be negative when netAmount is zero or positive"),
        ("[2].currencyRate", "is required because EUR differs from the connection's base currency GBP"),
        ("[3]", "must be an expense object"),
    }
    await assert_nothing_stored(client, connection, good["id"])


async def test_wrong_json_types_are_refused_not_coerced(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    cases: list[tuple[str, Any, str]] = [
        ("lines", {"netAmount": 1}, "lines"),
        ("lines", [], "lines"),
        ("issueDate", 20261120, "issueDate"),
        ("currencyRate", Decimal(0), "currencyRate"),
        ("currencyRate", Decimal("1.0000000001"), "currencyRate"),
        ("bankAccountRef", "bank-1", "bankAccountRef"),
        ("merchantName", ["Pret"], "merchantName"),
    ]
    for name, value, field in cases:
        data = expense_data(refs, **{name: value})
        with pytest.raises(ValidationFailedError) as refused:
            await post_raw(client, connection, data)
        assert [d.field for d in refused.value.details] == [field], (name, value)
    await assert_nothing_stored(client, connection)


async def test_duplicate_ids_in_one_request_are_refused(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    first = expense_data(refs)
    with pytest.raises(ValidationFailedError) as refused:
        await post_raw(client, connection, [first, expense_data(refs, id=first["id"])])
    assert [(d.field, d.message) for d in refused.value.details] == [("[1].id", "appears twice in this request")]


async def test_a_connection_that_is_not_connected_refuses_expenses(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    for status in (ConnectionStatus.ERROR, ConnectionStatus.DISCONNECTED):
        await client.switch_connection(connection.id, status)
        with pytest.raises(ConnectionNotConnectedError) as refused:
            await client.create_expenses(connection.id, [make_expense(refs)])
        assert (refused.value.status, refused.value.code) == (409, "connection_not_connected")
    with pytest.raises(NotFoundError):
        await client.create_expenses(str(uuid.uuid4()), [make_expense(refs)])
    await assert_nothing_stored(client, connection)


# --------------------------------------------------------------------------- idempotency, row by row


async def hold_queue(sandbox: SandboxServer, client: SandboxClient) -> None:
    """Keep new batches QUEUED while a test looks at them."""
    await client.configure_sandbox(processing_delay_ms=600_000)


@pytest.mark.parametrize("earlier", [ExpenseStatus.QUEUED, ExpenseStatus.PROCESSING, ExpenseStatus.SYNCED])
async def test_a_known_id_with_the_same_body_answers_the_original_batch(
    sandbox: SandboxServer, client: SandboxClient, connection: Connection, refs: LedgerRefs, earlier: ExpenseStatus
) -> None:
    if earlier != ExpenseStatus.SYNCED:
        await hold_queue(sandbox, client)
    expense = make_expense(refs)
    first = await client.create_expenses(connection.id, [expense])
    if earlier == ExpenseStatus.PROCESSING:
        await sandbox.call(lambda s: s.store.start_batch(first.sync_batch_id))
    if earlier == ExpenseStatus.SYNCED:
        await wait_for_batch(client, first.sync_batch_id)
    assert (await client.get_expense(connection.id, expense.id)).status == earlier

    # The same money written differently is the same body.
    respelled = expense.model_copy(deep=True)
    respelled.lines[0].net_amount = Decimal("10.0")
    answer = await post_raw(client, connection, [respelled])
    assert answer.status_code == 200
    assert answer.json()["syncBatchId"] == first.sync_batch_id
    assert answer.json()["expenses"] == [
        {"id": expense.id, "status": earlier.value, "syncBatchId": first.sync_batch_id}
    ]
    assert (await client.list_sync_batches(connection_id=connection.id)).total == 1


@pytest.mark.parametrize("earlier", [ExpenseStatus.QUEUED, ExpenseStatus.PROCESSING, ExpenseStatus.SYNCED])
async def test_a_known_id_with_a_different_body_is_a_conflict(
    sandbox: SandboxServer, client: SandboxClient, connection: Connection, refs: LedgerRefs, earlier: ExpenseStatus
) -> None:
    if earlier != ExpenseStatus.SYNCED:
        await hold_queue(sandbox, client)
    expense = make_expense(refs)
    first = await client.create_expenses(connection.id, [expense])
    if earlier == ExpenseStatus.PROCESSING:
        await sandbox.call(lambda s: s.store.start_batch(first.sync_batch_id))
    if earlier == ExpenseStatus.SYNCED:
        await wait_for_batch(client, first.sync_batch_id)
    changed = expense.model_copy(update={"merchant_name": "Someone else"})
    newcomer = make_expense(refs)
    with pytest.raises(ConflictError) as refused:
        await client.create_expenses(connection.id, [newcomer, changed])
    assert (refused.value.status, refused.value.code) == (409, "conflict")
    assert expense.id in refused.value.message
    # All or nothing: the new expense of the refused request was not queued either.
    with pytest.raises(NotFoundError):
        await client.get_expense(connection.id, newcomer.id)
    record = await client.get_expense(connection.id, expense.id)
    assert record.expense == expense and record.sync_batch_id == first.sync_batch_id


@pytest.mark.parametrize("body", ["same", "different"])
async def test_a_failed_id_is_accepted_again_into_a_new_batch(
    client: SandboxClient, connection: Connection, refs: LedgerRefs, body: str
) -> None:
    data = expense_data(refs)
    data["lines"][0]["accountRef"] = {"id": "acc-999"}
    first = await client.create_expenses(connection.id, [Expense.model_validate(data)])
    failed = await wait_for_batch(client, first.sync_batch_id)
    assert failed.status == BatchStatus.FAILED
    assert failed.expenses[0].error is not None and failed.expenses[0].error.code == "account_not_found"
    assert failed.expenses[0].error.message == "Account 'acc-999' does not exist in Xero (line 1)"

    if body == "different":
        data["lines"][0]["accountRef"] = {"id": refs.account}
    retry = await post_raw(client, connection, [data])
    assert retry.status_code == 202
    assert retry.json()["syncBatchId"] != first.sync_batch_id
    second = await wait_for_batch(client, retry.json()["syncBatchId"])
    assert second.status == (BatchStatus.COMPLETED if body == "different" else BatchStatus.FAILED)
    # The first batch still tells what happened then.
    assert (await client.get_sync_batch(first.sync_batch_id)).expenses == failed.expenses
    record = await client.get_expense(connection.id, data["id"])
    assert record.sync_batch_id == second.id and record.status == second.expenses[0].status


async def test_a_request_mixing_new_and_known_ids_is_judged_item_by_item(
    sandbox: SandboxServer, client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    known = make_expense(refs)
    first = await client.create_expenses(connection.id, [known])
    await wait_for_batch(client, first.sync_batch_id)
    fresh = make_expense(refs)
    answer = await post_raw(client, connection, [known, fresh])
    assert answer.status_code == 202
    body = answer.json()
    assert body["expenses"] == [
        {"id": known.id, "status": "SYNCED", "syncBatchId": first.sync_batch_id},
        {"id": fresh.id, "status": "QUEUED", "syncBatchId": body["syncBatchId"]},
    ]
    batch = await wait_for_batch(client, body["syncBatchId"])
    assert [e.id for e in batch.expenses] == [fresh.id]


async def test_the_same_id_on_another_connection_of_the_company_is_a_conflict(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    company = await client.get_company(connection.company_id)
    other = await connect(client, company, IntegrationKey.SAGE)
    expense = make_expense(refs)
    await client.create_expenses(connection.id, [expense])
    with pytest.raises(ConflictError):
        await client.create_expenses(other.id, [expense])


# --------------------------------------------------------------------------- batches and failure codes


async def test_a_batch_can_end_partially_failed(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    good = make_expense(refs)
    bad = make_expense(refs, taxRateRef=None)
    bad.lines[0].tax_rate_ref = Ref(id="TAX-NOPE")
    answer = await client.create_expenses(connection.id, [good, bad])
    batch = await wait_for_batch(client, answer.sync_batch_id)
    assert batch.status == BatchStatus.PARTIALLY_FAILED
    assert (batch.counts.total, batch.counts.synced, batch.counts.failed) == (2, 1, 1)
    assert [e.status for e in batch.expenses] == [ExpenseStatus.SYNCED, ExpenseStatus.FAILED]
    assert batch.expenses[1].error is not None and batch.expenses[1].error.code == "tax_rate_not_found"
    assert batch.expenses[1].accounting_id is None


def _broken(refs: LedgerRefs, code: str) -> dict[str, Any]:
    data = expense_data(refs)
    line = data["lines"][0]
    if code == "contact_not_found":
        data["contactRef"] = {"id": "nobody", "type": "Supplier"}
    elif code == "bank_account_not_found":
        data["bankAccountRef"] = {"id": refs.account}  # an account, but not a bank account
    elif code == "tracking_category_not_found":
        line["trackingRefs"] = [{"id": "no-such-category", "dataType": "trackingCategories"}]
    elif code == "missing_bank_account":
        del data["bankAccountRef"]
    elif code == "tax_rate_not_found":
        line["taxRateRef"] = {"id": "no-such-rate"}
    elif code == "account_not_found":
        line["accountRef"] = {"id": "no-such-account"}
    return data


@pytest.mark.parametrize(
    "code",
    [
        "account_not_found",
        "tax_rate_not_found",
        "contact_not_found",
        "bank_account_not_found",
        "tracking_category_not_found",
        "missing_bank_account",
    ],
)
async def test_each_unknown_reference_fails_its_expense_with_its_code(
    client: SandboxClient, connection: Connection, refs: LedgerRefs, code: str
) -> None:
    answer = await client.create_expenses(connection.id, [Expense.model_validate(_broken(refs, code))])
    batch = await wait_for_batch(client, answer.sync_batch_id)
    assert batch.status == BatchStatus.FAILED
    (only,) = batch.expenses
    assert only.status == ExpenseStatus.FAILED and only.error is not None and only.error.code == code
    assert only.error.message and "_" not in only.error.message.split()[0]


@pytest.mark.parametrize(
    ("status", "code"),
    [(ConnectionStatus.DISCONNECTED, "connection_disconnected"), (ConnectionStatus.ERROR, "connection_error")],
)
async def test_a_connection_lost_while_queued_fails_the_batch(
    sandbox: SandboxServer,
    client: SandboxClient,
    connection: Connection,
    refs: LedgerRefs,
    status: ConnectionStatus,
    code: str,
) -> None:
    await hold_queue(sandbox, client)
    answer = await client.create_expenses(connection.id, [make_expense(refs)])
    await client.switch_connection(connection.id, status)
    await client.configure_sandbox(processing_delay_ms=0)
    batch = await wait_for_batch(client, answer.sync_batch_id)
    assert batch.status == BatchStatus.FAILED
    assert batch.expenses[0].error is not None and batch.expenses[0].error.code == code


async def test_quickbooks_desktop_without_multicurrency_fails_a_foreign_expense(client: SandboxClient) -> None:
    company = await client.create_company("Desk Co")
    connection = await connect(client, company, IntegrationKey.QUICKBOOKS_DESKTOP)
    refs = await ledger_refs(client, connection)
    answer = await client.create_expenses(
        connection.id, [make_expense(refs), make_expense(refs, currency="CAD", currencyRate=Decimal("0.73"))]
    )
    batch = await wait_for_batch(client, answer.sync_batch_id)
    assert batch.status == BatchStatus.PARTIALLY_FAILED
    assert batch.expenses[1].error is not None and batch.expenses[1].error.code == "platform_error"
    assert "Multicurrency" in batch.expenses[1].error.message


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        (IntegrationKey.QUICKBOOKS, r"purchase-\d{4,}"),
        (IntegrationKey.QUICKBOOKS_DESKTOP, r"[0-9A-F]+-\d{10}"),
        (IntegrationKey.XERO, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        (IntegrationKey.SAGE, r"[0-9a-f]{32}"),
    ],
)
async def test_synced_expenses_get_an_accounting_id_in_the_softwares_style(
    client: SandboxClient, key: IntegrationKey, pattern: str
) -> None:
    company = await client.create_company(f"Style {key.value}")
    connection = await connect(client, company, key)
    refs = await ledger_refs(client, connection)
    answer = await client.create_expenses(connection.id, [make_expense(refs), make_expense(refs)])
    batch = await wait_for_batch(client, answer.sync_batch_id)
    ids = [e.accounting_id for e in batch.expenses]
    assert all(i is not None and re.fullmatch(pattern, i) for i in ids), ids
    assert len(set(ids)) == 2


async def test_batches_are_processed_in_order_of_arrival(
    sandbox: SandboxServer, client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    await hold_queue(sandbox, client)
    batch_ids = [(await client.create_expenses(connection.id, [make_expense(refs)])).sync_batch_id for _ in range(6)]
    await client.configure_sandbox(processing_delay_ms=0)
    batches = [await wait_for_batch(client, batch_id) for batch_id in batch_ids]
    completed = [b.completed_at for b in batches]
    assert completed == sorted(completed)
    assert len(set(completed)) == len(completed)


async def test_listing_batches_filters_and_pages_by_update(
    client: SandboxClient, connection: Connection, refs: LedgerRefs
) -> None:
    company = await client.get_company(connection.company_id)
    other = await connect(client, company, IntegrationKey.SAGE)
    other_refs = await ledger_refs(client, other)
    ids = [(await client.create_expenses(connection.id, [make_expense(refs)])).sync_batch_id for _ in range(3)]
    other_id = (await client.create_expenses(other.id, [make_expense(other_refs)])).sync_batch_id
    for batch_id in [*ids, other_id]:
        await wait_for_batch(client, batch_id)

    everything = await client.list_sync_batches(company_id=company.id)
    assert everything.total == 4
    assert [b.updated_at for b in everything.results] == sorted(b.updated_at for b in everything.results)
    assert {b.id for b in (await client.list_sync_batches(connection_id=other.id)).results} == {other_id}
    assert (await client.list_sync_batches(statuses=[BatchStatus.QUEUED, BatchStatus.PROCESSING])).total == 0
    assert (await client.list_sync_batches(statuses=[BatchStatus.COMPLETED, BatchStatus.FAILED])).total == 4

    middle = everything.results[1].updated_at
    later = await client.list_sync_batches(updated_since=middle)
    assert [b.id for b in later.results] == [b.id for b in everything.results[2:]]  # exclusive
    walked = [b.id async for b in client.iter_sync_batches(page_size=1)]
    assert walked == [b.id for b in everything.results]
    since_middle = [b.id async for b in client.iter_sync_batches(updated_since=middle, page_size=1)]
    assert since_middle == [b.id for b in everything.results[2:]]

    with pytest.raises(ValidationFailedError) as bad_status:
        await client.request("GET", "/sync-batches", idempotent=True, params={"status": "DONE"})
    assert [(d.field, d.message) for d in bad_status.value.details] == [
        ("status[0]", "must be 'QUEUED', 'PROCESSING', 'COMPLETED', 'PARTIALLY_FAILED' or 'FAILED'")
    ]
    with pytest.raises(NotFoundError):
        await client.get_sync_batch(str(uuid.uuid4()))
