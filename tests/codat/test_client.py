"""The Codat client end to end against the fake Codat, which holds every request and answer to Codat's own spec."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from apiclient.retry import RetryPolicy
from codat.client import CodatClient
from codat.errors import CodatAPIError
from codat.models import (
    CodatPage,
    CodatTrackingRef,
    ConnectionState,
    ExpenseContactRef,
    ExpenseTransaction,
    ExpenseTransactionLine,
    InvoiceTo,
    RecordRef,
    codat_company_name,
    codat_issue_date,
)
from tests.support.fake_codat import FakeCodat
from tests.support.servers import ThreadedServer

KEY = "codat-test-key"
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
def fake() -> Iterator[FakeCodat]:
    with FakeCodat(KEY, processing_seconds=0.3) as running:
        yield running
        assert running.invalid_requests == []
        assert running.invalid_responses == []


@pytest.fixture
async def client(fake: FakeCodat) -> AsyncIterator[CodatClient]:
    async with CodatClient(fake.url, KEY, retry=FAST) as codat:
        yield codat


async def linked_company(fake: FakeCodat, client: CodatClient, *, currency: str = "GBP") -> str:
    """A company with a Linked Xero connection and its partner expense connection, as onboarding leaves it."""
    company = await client.create_company("Linked Ltd")
    await client.create_connection(company.id, "gbol")
    fake.complete_link(company.id)
    fake.set_base_currency(company.id, currency)
    await client.create_partner_expense_connection(company.id)
    return company.id


def payment(
    amount: str, tax: str | None = None, *, currency: str = "GBP", merchant: str = "Trainline"
) -> ExpenseTransaction:
    return ExpenseTransaction(
        id=str(uuid.uuid4()),
        type="Payment",
        issue_date=date(2024, 5, 21),
        currency=currency,
        contact_ref=ExpenseContactRef(id="sup-003"),
        bank_account_ref=RecordRef(id="acc-091"),
        merchant_name=merchant,
        lines=[
            ExpenseTransactionLine(
                net_amount=Decimal(amount),
                tax_amount=Decimal(tax) if tax is not None else None,
                tax_rate_ref=RecordRef(id="INPUT2") if tax is not None else None,
                account_ref=RecordRef(id="acc-493"),
            )
        ],
    )


# ---------------------------------------------------------------------------------------------- the whole journey


async def test_company_to_receipt_end_to_end(fake: FakeCodat, client: CodatClient) -> None:
    # Company, then an accounting connection the user authorizes, then the partner expense connection.
    company = await client.create_company("Journey Ltd", "Card spend from Slack")
    assert (company.name, company.description, company.data_connections) == (
        "Journey Ltd",
        "Card spend from Slack",
        [],
    )
    assert fake.requests[-1].json == {"name": "Journey Ltd", "description": "Card spend from Slack"}
    assert (await client.get_company(company.id)).id == company.id

    pending = await client.create_connection(company.id, "qhyg")
    assert (pending.status, pending.integration_key, pending.platform_name) == (
        ConnectionState.PENDING_AUTH,
        "qhyg",
        "QuickBooks Online",
    )
    assert pending.link_url.startswith("http")
    fake.complete_link(company.id, pending.id)
    partner = await client.create_partner_expense_connection(company.id)
    assert partner.source_type == "Expense"
    assert fake.requests[-1].json is None  # no body at all

    connections = {c.id: c for c in await client.list_connections(company.id)}
    assert connections[pending.id].status == ConnectionState.LINKED
    assert partner.id in connections
    assert fake.requests[-1].query == {"page": "1", "pageSize": "100"}

    # What the company's books offer.
    fake.set_base_currency(company.id, "BHD")
    info = await client.get_company_info(company.id)
    assert (info.company_name, info.base_currency) == ("Journey Ltd", "BHD")
    config = await client.get_config(company.id)
    assert config.bank_account is not None and config.supplier is not None and config.customer is not None
    assert (config.bank_account.id, config.supplier.id, config.customer.id) == ("acc-091", "sup-001", "cus-001")
    options = await client.get_mapping_options(company.id)
    assert options.accounts and options.tax_rates and options.tracking_categories
    bank = next(a for a in options.accounts if a.id == "acc-091")
    assert (bank.is_bank_account, bank.currency, bank.account_type) == (True, "BHD", "Liability")
    vat = next(t for t in options.tax_rates if t.id == "INPUT2")
    assert (vat.effective_tax_rate, type(vat.effective_tax_rate)) == (Decimal(20), Decimal)
    assert any(t.parent_id == "DEPARTMENTS" for t in options.tracking_categories)
    suppliers = await client.list_suppliers(company.id)
    assert [s.id for s in suppliers][:2] == ["sup-001", "sup-002"] and suppliers[0].status == "Active"
    assert fake.requests[-1].query == {"page": "1", "pageSize": "1000"}
    customers = await client.list_customers(company.id)
    assert "cus-002" in {c.id for c in customers} and customers[0].customer_name

    # Expenses: Decimal digits exactly as given, three places for the dinar.
    expense = ExpenseTransaction(
        id=str(uuid.uuid4()),
        type="Payment",
        issue_date=date(2024, 5, 21),
        currency="BHD",
        contact_ref=ExpenseContactRef(id="sup-002"),
        bank_account_ref=RecordRef(id="acc-091"),
        merchant_name="Amazon UK",
        notes="Card ending 4590",
        lines=[
            ExpenseTransactionLine(
                net_amount=Decimal("12.345"),
                tax_amount=Decimal("2.469"),
                tax_rate_ref=RecordRef(id="INPUT2"),
                account_ref=RecordRef(id="acc-461"),
                tracking_refs=[CodatTrackingRef(id="DEPARTMENT_2")],
                invoice_to=InvoiceTo(id="cus-002"),
            )
        ],
    )
    accepted = await client.create_expense_transactions(company.id, [expense])
    sent = fake.requests[-1]
    assert (sent.method, sent.path) == ("POST", f"/companies/{company.id}/sync/expenses/expense-transactions")
    assert sent.json == [
        {
            "id": expense.id,
            "type": "Payment",
            "issueDate": "2024-05-21T00:00:00Z",
            "currency": "BHD",
            "contactRef": {"id": "sup-002", "type": "Supplier"},
            "bankAccountRef": {"id": "acc-091"},
            "merchantName": "Amazon UK",
            "notes": "Card ending 4590",
            "lines": [
                {
                    "netAmount": Decimal("12.345"),
                    "taxAmount": Decimal("2.469"),
                    "taxRateRef": {"id": "INPUT2"},
                    "accountRef": {"id": "acc-461"},
                    "trackingRefs": [{"id": "DEPARTMENT_2", "dataType": "trackingCategories"}],
                    "invoiceTo": {"id": "cus-002", "type": "customer"},
                }
            ],
        }
    ]
    line = sent.json[0]["lines"][0]
    assert (str(line["netAmount"]), str(line["taxAmount"])) == ("12.345", "2.469")  # the digits, not a float's

    # The sync: in progress, then finished.
    running = await client.get_sync_status(company.id, accepted.sync_id)
    assert (running.sync_id, running.sync_status_code, running.data_pushed) == (accepted.sync_id, 1000, False)
    fake.finish_syncs()
    done = await client.get_sync_status(company.id, accepted.sync_id)
    assert (done.sync_status_code, done.sync_status, done.data_pushed) == (2000, "Complete", True)
    assert done.sync_utc is not None
    listed = await client.list_sync_statuses(company.id)
    assert [(s.sync_id, s.sync_status_code) for s in listed] == [(accepted.sync_id, 2000)]
    transactions = await client.list_sync_transactions(company.id, accepted.sync_id)
    assert [(t.transaction_id, t.status, t.message) for t in transactions] == [(expense.id, "Completed", None)]

    # The receipt, byte for byte.
    receipt = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    attachment = await client.upload_attachment(
        company.id, accepted.sync_id, expense.id, "receipt.pdf", receipt, "application/pdf"
    )
    assert (attachment.company_id, attachment.transaction_id) == (company.id, expense.id) and attachment.id
    stored = fake.attachments[-1]
    assert stored.sha256 == hashlib.sha256(receipt).hexdigest()
    assert (stored.file_name, stored.content_type, stored.transaction_id) == (
        "receipt.pdf",
        "application/pdf",
        expense.id,
    )

    # And the user disconnects.
    unlinked = await client.unlink_connection(company.id, pending.id)
    assert unlinked.status == ConnectionState.UNLINKED
    patched = fake.requests[-1]
    assert (patched.method, patched.json) == ("PATCH", {"status": "Unlinked"})


async def test_gbp_amounts_keep_their_trailing_zero_on_the_wire(fake: FakeCodat, client: CodatClient) -> None:
    company_id = await linked_company(fake, client)
    await client.create_expense_transactions(company_id, [payment("1234.50", "246.90"), payment("0.10")])
    sent = fake.requests[-1].json
    assert isinstance(sent, list)
    lines = [transaction["lines"][0] for transaction in sent]
    assert [str(line["netAmount"]) for line in lines] == ["1234.50", "0.10"]
    assert str(lines[0]["taxAmount"]) == "246.90" and "taxAmount" not in lines[1]


async def test_a_refused_transaction_finishes_as_a_validation_error(fake: FakeCodat, client: CodatClient) -> None:
    company_id = await linked_company(fake, client)
    good, bad = payment("10.00"), payment("20.00", merchant="REFUSE me")
    accepted = await client.create_expense_transactions(company_id, [good, bad])
    fake.finish_syncs()
    outcome = {t.transaction_id: t for t in await client.list_sync_transactions(company_id, accepted.sync_id)}
    assert outcome[good.id].status == "Completed"
    assert outcome[bad.id].status == "ValidationError" and outcome[bad.id].message
    status = await client.get_sync_status(company_id, accepted.sync_id)
    assert status.sync_status_code == 2000


async def test_a_failed_sync_answers_its_code_and_message(fake: FakeCodat, client: CodatClient) -> None:
    company_id = await linked_company(fake, client)
    fake.fail_next_sync(4001, "The accounting platform refused the credentials")
    accepted = await client.create_expense_transactions(company_id, [payment("5.00")])
    fake.finish_syncs()
    status = await client.get_sync_status(company_id, accepted.sync_id)
    assert (status.sync_status_code, status.error_message) == (4001, "The accounting platform refused the credentials")
    [transaction] = await client.list_sync_transactions(company_id, accepted.sync_id)
    assert transaction.status == "PushError"


async def test_a_sync_finishes_on_its_own_after_the_processing_time(fake: FakeCodat, client: CodatClient) -> None:
    fake.processing_seconds = 0.0
    company_id = await linked_company(fake, client)
    accepted = await client.create_expense_transactions(company_id, [payment("5.00")])
    assert (await client.get_sync_status(company_id, accepted.sync_id)).sync_status_code == 2000


async def test_fifty_transactions_at_most_and_at_least_one_before_anything_is_sent(
    fake: FakeCodat, client: CodatClient
) -> None:
    company_id = await linked_company(fake, client)
    sent_before = len(fake.requests)
    with pytest.raises(ValueError, match="1 to 50"):
        await client.create_expense_transactions(company_id, [])
    with pytest.raises(ValueError, match="not 51"):
        await client.create_expense_transactions(company_id, [payment("1.00") for _ in range(51)])
    assert len(fake.requests) == sent_before
    accepted = await client.create_expense_transactions(company_id, [payment("1.00") for _ in range(50)])
    fake.finish_syncs()
    assert len(await client.list_sync_transactions(company_id, accepted.sync_id)) == 50


async def test_connections_are_read_page_after_page(fake: FakeCodat, client: CodatClient) -> None:
    company = await client.create_company("Many Connections Ltd")
    created = {(await client.create_connection(company.id, "gbol")).id for _ in range(101)}
    listed = await client.list_connections(company.id)
    assert {c.id for c in listed} == created and len(listed) == 101
    pages = [r.query for r in fake.requests if r.path.endswith("/connections") and r.method == "GET"]
    assert pages == [{"page": "1", "pageSize": "100"}, {"page": "2", "pageSize": "100"}]


async def test_list_companies_answers_one_page(fake: FakeCodat, client: CodatClient) -> None:
    first = await client.list_companies()
    assert (first.results, first.total_results, first.page_number) == ([], 0, 1)
    await client.create_company("One Ltd")
    await client.create_company("Two Ltd")
    page = await client.list_companies(page=2, page_size=1)
    assert isinstance(page, CodatPage)
    assert (len(page.results), page.page_number, page.page_size, page.total_results) == (1, 2, 1, 2)
    assert page.results[0].name == "Two Ltd"


async def test_company_names_are_cleaned_as_codat_would_and_description_only_when_given(
    fake: FakeCodat, client: CodatClient
) -> None:
    company = await client.create_company("Acme (UK) [Holdings] Ltd")
    assert company.name == "Acme UK Holdings Ltd"
    assert fake.requests[-1].json == {"name": "Acme UK Holdings Ltd"}
    assert codat_company_name("Company (Codat[1])") == "Company Codat1"
    with pytest.raises(ValueError, match="letter or digit"):
        await client.create_company("(())")


async def test_the_basic_header_authorizes_and_the_key_is_never_shown(fake: FakeCodat) -> None:
    expected = "Basic " + base64.b64encode(KEY.encode()).decode()
    assert fake.authorization == expected
    async with CodatClient(fake.url, KEY) as client:
        assert KEY not in repr(client) and base64.b64encode(KEY.encode()).decode() not in repr(client)
        await client.list_companies()  # the fake answers 401 to anything but exactly `expected`
    assert fake.requests[-1].status == 200
    with pytest.raises(ValueError, match="API key is required"):
        CodatClient(fake.url, "   ")
    with pytest.raises(ValueError, match="API key is required"):
        CodatClient(fake.url)


class HeaderEcho:
    """A real HTTP server on 127.0.0.1 that keeps the Authorization header it got and answers a script."""

    def __init__(self) -> None:
        self.authorizations: list[str | None] = []
        self.script: list[Response] = []

        async def answer(request: Request) -> Response:
            self.authorizations.append(request.headers.get("authorization"))
            if self.script:
                return self.script.pop(0)
            return JSONResponse({"results": [], "pageNumber": 1, "pageSize": 1, "totalResults": 0, "_links": {}})

        app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PATCH"])])
        self._server = ThreadedServer(app, "header echo")
        self.url = self._server.url

    def __enter__(self) -> HeaderEcho:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()


async def test_the_header_is_basic_with_the_base64_of_the_key() -> None:
    key = "a1b2c3d4-\u00e9-key"
    with HeaderEcho() as echo:
        async with CodatClient(echo.url, key) as client:
            await client.list_companies()
    assert echo.authorizations == ["Basic " + base64.b64encode(key.encode("utf-8")).decode("ascii")]


async def test_a_2xx_body_that_does_not_fit_the_model_is_a_bad_response() -> None:
    with HeaderEcho() as echo:
        async with CodatClient(echo.url, KEY, retry=FAST) as client:
            echo.script = [JSONResponse({"id": "c1", "name": "No redirect"})]
            with pytest.raises(CodatAPIError) as unfit:
                await client.get_company("c1")
            echo.script = [Response(b"<html>welcome</html>", 200, media_type="text/html")]
            with pytest.raises(CodatAPIError) as not_json:
                await client.get_company_info("c1")
            echo.script = [JSONResponse({"syncId": "s"})]
            with pytest.raises(CodatAPIError) as not_a_list:
                await client.list_sync_statuses("c1")
    assert (unfit.value.status, unfit.value.code) == (200, "bad_response")
    assert unfit.value.message == ("Codat's answer to GET /companies/c1 was not CodatCompany: redirect field required")
    assert (not_json.value.code, not_json.value.message) == (
        "bad_response",
        "Codat's answer to GET /companies/c1/data/info was not CompanyInformation: the body is not JSON",
    )
    assert not_a_list.value.code == "bad_response" and "not a list" in not_a_list.value.message


def test_issue_dates_are_midnight_utc_date_times() -> None:
    assert codat_issue_date(date(2024, 2, 29)) == "2024-02-29T00:00:00Z"
    assert payment("1.00").issue_date == "2024-05-21T00:00:00Z"


def test_money_must_be_a_decimal_and_ids_uuids() -> None:
    with pytest.raises(ValueError, match="never a binary float"):
        ExpenseTransactionLine(net_amount=12.5)
    with pytest.raises(ValueError, match="must be a UUID"):
        ExpenseTransaction(
            id="not-a-uuid",
            type="Payment",
            issue_date="2024-05-21T00:00:00Z",
            currency="GBP",
            lines=[ExpenseTransactionLine(net_amount=Decimal("1.00"))],
        )
