"""The fake Codat must hold to Codat's published spec, or contract tests built on it prove nothing.

Every test talks real HTTP to the fake; the fixture's teardown asserts that no request broke the spec and no response
did either (tests that send bad requests on purpose take theirs with ``take_invalid_requests``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_codat import (
    DEFAULT_API_KEY,
    REFUSE_MESSAGE,
    FakeCodat,
    _spec,
    running_fake_codat,
)

Json = dict[str, Any]
MB = 1024 * 1024
ERROR_KEYS = {"statusCode", "service", "error", "correlationId", "canBeRetried", "detailedErrorCode"}


@pytest.fixture
def fake() -> Iterator[FakeCodat]:
    with running_fake_codat() as server:
        yield server


@pytest.fixture
def api(fake: FakeCodat) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers={"Authorization": fake.authorization}, timeout=30) as client:
        yield client


def new_company(api: httpx.Client, name: str = "Acme Ltd") -> str:
    answer = api.post("/companies", json={"name": name})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def connect(api: httpx.Client, company_id: str, platform_key: str = "gbol") -> Json:
    answer = api.post(f"/companies/{company_id}/connections", json={"platformKey": platform_key})
    assert answer.status_code == 200, answer.text
    connection: Json = answer.json()
    return connection


def ready_company(api: httpx.Client, fake: FakeCodat, platform_key: str = "gbol") -> str:
    """A company with a linked accounting platform and a partner expense connection: ready to take expenses."""
    company_id = new_company(api)
    connect(api, company_id, platform_key)
    fake.complete_link(company_id)
    assert api.post(f"/companies/{company_id}/sync/expenses/connections/partnerExpense").status_code == 200
    return company_id


def expense(**changes: Any) -> Json:
    body: Json = {
        "id": str(uuid.uuid4()),
        "type": "Payment",
        "issueDate": "2024-05-21T00:00:00Z",
        "currency": "GBP",
        "currencyRate": None,
        "contactRef": {"id": "sup-002", "type": "Supplier"},
        "bankAccountRef": {"id": "acc-091"},
        "merchantName": "Amazon UK",
        "notes": "Card ending 4590",
        "lines": [
            {
                "netAmount": 100,
                "taxAmount": 20,
                "taxRateRef": {"id": "INPUT2"},
                "accountRef": {"id": "acc-429"},
                "trackingRefs": [{"id": "DEPARTMENT_1", "dataType": "trackingCategories"}],
            }
        ],
    }
    body.update(changes)
    return body


def push(api: httpx.Client, company_id: str, *batch: Json) -> str:
    answer = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=list(batch))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["syncId"])


def sync_status(api: httpx.Client, company_id: str, sync_id: str) -> Json:
    answer = api.get(f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/status")
    assert answer.status_code == 200, answer.text
    status: Json = answer.json()
    return status


def sync_transactions(api: httpx.Client, company_id: str, sync_id: str) -> dict[str, Json]:
    answer = api.get(f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions")
    assert answer.status_code == 200, answer.text
    return {result["transactionId"]: result for result in answer.json()["results"]}


def assert_codat_error(answer: httpx.Response, status: int) -> Json:
    assert answer.status_code == status, answer.text
    body: Json = answer.json()
    assert body.keys() >= ERROR_KEYS
    assert (body["statusCode"], body["service"], body["canBeRetried"], body["detailedErrorCode"]) == (
        status,
        "PublicApi",
        "Unknown",
        0,
    )
    int(body["correlationId"], 16)
    return body


# --- the spec ------------------------------------------------------------------------------------------------------


def test_the_spec_is_codats_file_and_is_loaded_once() -> None:
    document = _spec().document
    assert (document["openapi"], document["info"]["title"], document["servers"]) == (
        "3.1.0",
        "Expenses",
        [{"url": "https://api.codat.io"}],
    )
    assert _spec() is _spec()
    # The one structural quirk rewritten on load: "nothing but allOf's properties", spelled the 3.1 way.
    transactions = _spec().document["components"]["schemas"]["Transactions"]
    assert transactions["unevaluatedProperties"] is False and "additionalProperties" not in transactions


# --- companies and connections -------------------------------------------------------------------------------------


def test_companies_are_created_listed_paged_and_fetched(api: httpx.Client, fake: FakeCodat) -> None:
    created = api.post("/companies", json={"name": "Acme Ltd", "description": "Card programme customer"})
    assert created.status_code == 200
    company = created.json()
    uuid.UUID(company["id"], version=4)
    assert company["name"] == "Acme Ltd" and company["description"] == "Card programme customer"
    assert company["redirect"] == f"{fake.url}/link/{company['id']}"
    assert (company["products"], company["dataConnections"]) == ([], [])
    new_company(api, "Globex & Sons")

    listed = api.get("/companies", params={"page": 2, "pageSize": 1}).json()
    assert (listed["pageNumber"], listed["pageSize"], listed["totalResults"]) == (2, 1, 2)
    assert [c["name"] for c in listed["results"]] == ["Globex & Sons"]
    assert listed["_links"]["current"]["href"] == "/companies?page=2&pageSize=1"
    assert listed["_links"]["previous"]["href"] == "/companies?page=1&pageSize=1"

    assert api.get(f"/companies/{company['id']}").json() == company
    assert fake.companies()[0]["id"] == company["id"]
    missing = assert_codat_error(api.get(f"/companies/{uuid.uuid4()}"), 404)
    assert "No company was found" in missing["error"]
    assert fake.invalid_requests == [] and fake.invalid_responses == []


def test_a_connection_goes_from_pending_to_linked_to_unlinked(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    connection = connect(api, company_id, "qhyg")
    kind = (connection["status"], connection["sourceType"], connection["platformName"], connection["integrationKey"])
    assert kind == ("PendingAuth", "Accounting", "QuickBooks Online", "qhyg")
    assert connection["linkUrl"] == f"{fake.url}/link/{company_id}/{connection['id']}"
    for key in ("id", "integrationId", "sourceId"):
        uuid.UUID(connection[key])

    linked = fake.complete_link(company_id)
    assert linked["id"] == connection["id"] and linked["status"] == "Linked"
    fetched = api.get(f"/companies/{company_id}/connections/{connection['id']}").json()
    assert fetched["status"] == "Linked"
    listed = api.get(f"/companies/{company_id}/connections").json()
    assert [c["id"] for c in listed["results"]] == [connection["id"]] and listed["totalResults"] == 1

    unlinked = api.patch(f"/companies/{company_id}/connections/{connection['id']}", json={"status": "Unlinked"})
    assert unlinked.status_code == 200 and unlinked.json()["status"] == "Unlinked"
    fake.set_connection_status(company_id, connection["id"], "Deauthorized")
    assert fake.connections(company_id)[0]["status"] == "Deauthorized"
    assert api.get(f"/companies/{company_id}/connections/{connection['id']}").json()["status"] == "Deauthorized"
    assert_codat_error(api.get(f"/companies/{company_id}/connections/{uuid.uuid4()}"), 404)
    assert fake.invalid_requests == [] and fake.invalid_responses == []


def test_an_unknown_platform_key_is_refused_in_codats_shape(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    body = assert_codat_error(api.post(f"/companies/{company_id}/connections", json={"platformKey": "zzzz"}), 400)
    assert body["error"] == "Unknown platform key"
    assert body["validation"]["errors"][0]["itemId"] == "platformKey"
    assert fake.connections(company_id) == []
    # create-connection declares no 400; the body was still held to the ErrorMessage schema.
    assert fake.invalid_responses == []


def test_the_partner_expense_connection_needs_a_linked_accounting_platform(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    connect(api, company_id, "gbol")
    partner_path = f"/companies/{company_id}/sync/expenses/connections/partnerExpense"
    refused = assert_codat_error(api.post(partner_path), 400)
    assert "link an accounting platform first" in refused["error"]

    fake.complete_link(company_id)
    first = api.post(partner_path)
    assert first.status_code == 200
    partner = first.json()
    assert (partner["sourceType"], partner["status"], partner["platformName"], partner["integrationKey"]) == (
        "Expense",
        "Linked",
        "Partner Expense",
        "expense",
    )
    again = api.post(partner_path).json()
    assert again["id"] == partner["id"]
    assert [c["sourceType"] for c in fake.connections(company_id)] == ["Accounting", "Expense"]
    options = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()
    assert options["expenseProvider"] == "Partner Expense"


# --- reference data ------------------------------------------------------------------------------------------------


def test_company_info_follows_the_base_currency(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api, "Initech")
    info = api.get(f"/companies/{company_id}/data/info").json()
    assert (info["companyName"], info["baseCurrency"]) == ("Initech", "GBP")
    fake.set_base_currency(company_id, "USD")
    assert api.get(f"/companies/{company_id}/data/info").json()["baseCurrency"] == "USD"
    accounts = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()["accounts"]
    assert {account["currency"] for account in accounts} == {"USD"}


def test_mapping_options_offer_accounts_tax_rates_and_tracking(api: httpx.Client) -> None:
    company_id = new_company(api)
    options = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()
    banks = [a for a in options["accounts"] if a["isBankAccount"]]
    expenses = [a for a in options["accounts"] if a["accountType"] == "Expense"]
    assert len(banks) >= 2 and len(expenses) >= 3
    for account in options["accounts"]:
        assert {"id", "nominalCode", "name", "currency", "accountType", "fullyQualifiedCategory"} <= account.keys()
        assert set(account["validTransactionTypes"]) <= {"Payment", "Refund", "Reward", "Chargeback"}
    rates = {rate["name"]: rate["effectiveTaxRate"] for rate in options["taxRates"]}
    assert rates["20% (VAT on Expenses)"] == 20 and rates["No VAT"] == 0
    parents = [t for t in options["trackingCategories"] if t["hasChildren"]]
    children = [t for t in options["trackingCategories"] if t["parentId"] == parents[0]["id"]]
    assert len(parents) == 1 and len(children) >= 2
    assert options["expenseProvider"] is None  # no partner expense connection yet


def test_the_expense_config_refers_to_seeded_records_and_can_be_changed(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    path = f"/companies/{company_id}/sync/expenses/config"
    config = api.get(path).json()
    options = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()
    suppliers = api.get(f"/companies/{company_id}/data/suppliers").json()["results"]
    customers = api.get(f"/companies/{company_id}/data/customers").json()["results"]
    assert config["bankAccount"]["id"] in {a["id"] for a in options["accounts"] if a["isBankAccount"]}
    assert config["supplier"]["id"] in {s["id"] for s in suppliers}
    assert config["customer"]["id"] in {c["id"] for c in customers}

    fake.set_config(company_id, bank_account="acc-090")
    assert api.get(path).json()["bankAccount"] == {"id": "acc-090"}
    chosen = {"bankAccount": {"id": "acc-091"}, "supplier": {"id": "sup-003"}, "customer": {"id": "cus-002"}}
    assert api.post(path, json=chosen).json() == chosen
    assert api.get(path).json() == chosen
    wrong = assert_codat_error(api.post(path, json=chosen | {"bankAccount": {"id": "acc-400"}}), 400)
    assert wrong["validation"]["errors"][0]["itemId"] == "bankAccount.id"
    assert api.get(path).json() == chosen


@pytest.mark.parametrize("kind", ["suppliers", "customers"])
def test_suppliers_and_customers_are_paged(api: httpx.Client, kind: str) -> None:
    company_id = new_company(api)
    everything = api.get(f"/companies/{company_id}/data/{kind}").json()
    assert everything["totalResults"] == 5 and len(everything["results"]) == 5
    assert all(record["status"] == "Active" and record["defaultCurrency"] == "GBP" for record in everything["results"])
    name_key = "supplierName" if kind == "suppliers" else "customerName"
    assert all(record[name_key] for record in everything["results"])
    second = api.get(f"/companies/{company_id}/data/{kind}", params={"page": 2, "pageSize": 2}).json()
    assert [r["id"] for r in second["results"]] == [r["id"] for r in everything["results"][2:4]]
    assert second["_links"]["next"]["href"].endswith("page=3&pageSize=2")


def test_nulls_in_nullable_fields_of_responses_validate(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    info = api.get(f"/companies/{company_id}/data/info").json()
    assert info["companyLegalName"] is None and info["registrationNumber"] is None
    supplier = api.get(f"/companies/{company_id}/data/suppliers").json()["results"][0]
    assert supplier["contactName"] is None and supplier["emailAddress"] is None
    options = api.get(f"/companies/{company_id}/sync/expenses/mappingOptions").json()
    assert None in {a["nominalCode"] for a in options["accounts"]}
    assert None in {r["code"] for r in options["taxRates"]}
    assert None in {t["parentId"] for t in options["trackingCategories"]}
    assert api.get(f"/companies/{company_id}/connections").json()["results"][0]["dataConnectionErrors"] is None
    sync_id = push(api, company_id, expense())
    fake.finish_syncs()
    assert sync_status(api, company_id, sync_id)["errorMessage"] is None
    assert next(iter(sync_transactions(api, company_id, sync_id).values()))["message"] is None
    assert fake.invalid_responses == []


# --- expenses and syncs --------------------------------------------------------------------------------------------


def test_a_sync_runs_then_completes_with_per_transaction_outcomes(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    fake.processing_seconds = 60  # in progress until finish_syncs, however slow the machine
    good, refused = expense(), expense(merchantName="REFUSE Ltd")
    sync_id = push(api, company_id, good, refused)
    uuid.UUID(sync_id, version=4)

    running = sync_status(api, company_id, sync_id)
    assert (running["syncStatusCode"], running["syncStatus"], running["dataPushed"]) == (1000, "InProgress", False)
    assert {t["status"] for t in sync_transactions(api, company_id, sync_id).values()} == {"Pending"}

    fake.finish_syncs()
    done = sync_status(api, company_id, sync_id)
    assert (done["syncStatusCode"], done["syncStatus"], done["dataPushed"]) == (2000, "Complete", True)
    assert done["syncUtc"] >= running["syncUtc"]
    outcomes = sync_transactions(api, company_id, sync_id)
    assert outcomes[good["id"]]["status"] == "Completed" and outcomes[good["id"]]["integrationType"] == "expenses"
    refusal = outcomes[refused["id"]]
    assert (refusal["status"], refusal["message"]) == ("ValidationError", REFUSE_MESSAGE)
    single = api.get(f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions/{refused['id']}").json()
    assert single == [outcomes[refused["id"]]]

    assert [s["syncId"] for s in api.get(f"/companies/{company_id}/sync/expenses/syncs/list/status").json()] == [
        sync_id
    ]
    assert api.get(f"/companies/{company_id}/sync/expenses/syncs/latest/status").json()["syncId"] == sync_id
    assert api.get(f"/companies/{company_id}/sync/expenses/syncs/lastSuccessful/status").json()["syncId"] == sync_id
    stored = {t["id"]: t for t in fake.transactions(company_id)}
    assert stored[good["id"]]["syncId"] == sync_id and stored[good["id"]]["body"]["merchantName"] == "Amazon UK"
    assert_codat_error(api.get(f"/companies/{company_id}/sync/expenses/syncs/{uuid.uuid4()}/status"), 404)


def test_a_sync_finishes_by_itself_once_processing_time_has_passed(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    fake.processing_seconds = 60
    sync_id = push(api, company_id, expense())
    assert sync_status(api, company_id, sync_id)["syncStatusCode"] == 1000
    fake.processing_seconds = 0.2  # counted from the sync's creation, checked whenever someone looks
    time.sleep(0.25)  # a sync test: the fake's own thread keeps serving meanwhile
    finished = sync_status(api, company_id, sync_id)
    assert (finished["syncStatusCode"], finished["syncStatus"]) == (2000, "Complete")


def test_a_sync_that_pushes_nothing_is_2040(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    sync_id = push(api, company_id, expense(merchantName="REFUSE one"), expense(merchantName="REFUSE two"))
    fake.finish_syncs()
    done = sync_status(api, company_id, sync_id)
    assert (done["syncStatusCode"], done["syncStatus"], done["dataPushed"]) == (2040, "Complete", False)
    assert {t["status"] for t in sync_transactions(api, company_id, sync_id).values()} == {"ValidationError"}


def test_tests_decide_outcomes_by_replacing_outcome(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    seen: list[str] = []

    def outcome(transaction: Json) -> tuple[str, str | None]:
        seen.append(transaction["id"])
        return ("PushError", "Account is archived") if transaction["type"] == "Refund" else ("Completed", None)

    fake.outcome = outcome
    payment, refund = expense(), expense(type="Refund")
    sync_id = push(api, company_id, payment, refund)
    fake.finish_syncs()
    outcomes = sync_transactions(api, company_id, sync_id)
    assert seen == [payment["id"], refund["id"]]
    assert (outcomes[refund["id"]]["status"], outcomes[refund["id"]]["message"]) == ("PushError", "Account is archived")
    assert sync_status(api, company_id, sync_id)["syncStatusCode"] == 2000


@pytest.mark.parametrize(
    ("code", "message"), [(4001, "The connection to Xero is deauthorized"), (5000, "Xero is unavailable")]
)
def test_a_scripted_sync_failure_fails_the_next_sync_only(
    api: httpx.Client, fake: FakeCodat, code: int, message: str
) -> None:
    company_id = ready_company(api, fake)
    fake.fail_next_sync(code, message)
    failed_id = push(api, company_id, expense(), expense())
    later_id = push(api, company_id, expense())
    fake.finish_syncs()
    failed = sync_status(api, company_id, failed_id)
    assert (failed["syncStatusCode"], failed["syncStatus"], failed["errorMessage"], failed["dataPushed"]) == (
        code,
        "Failed",
        message,
        False,
    )
    assert {(t["status"], t["message"]) for t in sync_transactions(api, company_id, failed_id).values()} == {
        ("PushError", message)
    }
    assert sync_status(api, company_id, later_id)["syncStatusCode"] == 2000
    assert api.get(f"/companies/{company_id}/sync/expenses/syncs/lastSuccessful/status").json()["syncId"] == later_id


def test_a_transaction_id_already_pushed_is_refused_and_nothing_is_stored(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    first = expense()
    push(api, company_id, first)
    fresh = expense()
    answer = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=[fresh, first])
    body = assert_codat_error(answer, 400)
    assert body["validation"]["errors"] == [
        {
            "itemId": first["id"],
            "message": "A transaction with this id has already been pushed",
            "validatorName": "DuplicateTransaction",
        }
    ]
    assert [t["id"] for t in fake.transactions(company_id)] == [first["id"]]
    assert len(fake.syncs(company_id)) == 1
    push(api, company_id, fresh)  # the refused batch left nothing behind that would block it


def test_a_refused_transaction_may_be_pushed_again_once_fixed(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    refused = expense(merchantName="REFUSE Ltd")
    push(api, company_id, refused)
    fake.finish_syncs()
    retry_sync = push(api, company_id, {**refused, "merchantName": "Amazon UK"})
    fake.finish_syncs()
    assert sync_transactions(api, company_id, retry_sync)[refused["id"]]["status"] == "Completed"
    again = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=[refused])
    assert assert_codat_error(again, 400)["validation"]["errors"][0]["itemId"] == refused["id"]


@pytest.mark.parametrize(
    ("link", "partner", "words"),
    [(False, False, "no linked accounting platform"), (True, False, "no partner expense connection")],
)
def test_expenses_need_both_connections(
    api: httpx.Client, fake: FakeCodat, link: bool, partner: bool, words: str
) -> None:
    company_id = new_company(api)
    connect(api, company_id)
    if link:
        fake.complete_link(company_id)
    answer = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=[expense()])
    assert words in assert_codat_error(answer, 400)["error"]
    assert fake.transactions(company_id) == []


def test_a_deauthorized_accounting_connection_stops_pushes(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    accounting = fake.connections(company_id)[0]
    fake.set_connection_status(company_id, accounting["id"], "Deauthorized")
    answer = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=[expense()])
    assert "no linked accounting platform" in assert_codat_error(answer, 400)["error"]


async def test_concurrent_pushes_each_get_their_own_sync(fake: FakeCodat) -> None:
    headers = {"Authorization": fake.authorization}
    async with httpx.AsyncClient(base_url=fake.url, headers=headers, timeout=30) as client:
        company = (await client.post("/companies", json={"name": "Busy Ltd"})).json()["id"]
        await client.post(f"/companies/{company}/connections", json={"platformKey": "fbrh"})
        fake.complete_link(company)
        await client.post(f"/companies/{company}/sync/expenses/connections/partnerExpense")
        batches = [[expense(), expense()] for _ in range(8)]
        path = f"/companies/{company}/sync/expenses/expense-transactions"
        answers = await asyncio.gather(*(client.post(path, json=batch) for batch in batches))
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json()["syncId"] for a in answers}) == 8
    fake.finish_syncs()
    assert {s["syncStatusCode"] for s in fake.syncs(company)} == {2000}
    assert len(fake.transactions(company)) == 16


# --- scripted faults -----------------------------------------------------------------------------------------------


def test_fail_next_answers_a_fault_with_retry_after_then_recovers(api: httpx.Client, fake: FakeCodat) -> None:
    fake.fail_next(429, times=2, retry_after=7)
    for _ in range(2):
        answer = api.get("/companies")
        body = assert_codat_error(answer, 429)
        assert answer.headers["Retry-After"] == "7"
        assert "too many requests" in body["error"]
    recovered = api.get("/companies")
    assert recovered.status_code == 200 and "Retry-After" not in recovered.headers
    assert [r.status for r in fake.requests] == [429, 429, 200]


def test_fail_next_only_hits_matching_paths(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    fake.fail_next(503, path_contains="/data/info")
    assert api.get(f"/companies/{company_id}").status_code == 200
    assert_codat_error(api.get(f"/companies/{company_id}/data/info"), 503)
    assert api.get(f"/companies/{company_id}/data/info").status_code == 200


def test_a_lost_answer_keeps_the_state_change(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    batch = [expense()]
    fake.fail_next(500, path_contains="expense-transactions", after_handling=True)
    path = f"/companies/{company_id}/sync/expenses/expense-transactions"
    assert_codat_error(api.post(path, json=batch), 500)
    assert [t["id"] for t in fake.transactions(company_id)] == [batch[0]["id"]]
    assert len(fake.syncs(company_id)) == 1
    # The client's blind retry meets Codat's duplicate protection.
    retry = assert_codat_error(api.post(path, json=batch), 400)
    assert retry["validation"]["errors"][0]["validatorName"] == "DuplicateTransaction"


# --- requests the spec refuses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("type DirectCost", "'DirectCost' is not one of"),
        ("transaction id not a uuid", "is not a 'uuid'"),
        ("51 transactions", "is too long"),
        ("no transactions", "should be non-empty"),
        ("line without netAmount", "'netAmount' is a required property"),
    ],
)
def test_a_bad_expense_batch_is_caught_by_the_spec(api: httpx.Client, fake: FakeCodat, case: str, words: str) -> None:
    company_id = ready_company(api, fake)
    batches: dict[str, list[Json]] = {
        "type DirectCost": [expense(type="DirectCost")],
        "transaction id not a uuid": [expense(id="EXP-0001")],
        "51 transactions": [expense() for _ in range(51)],
        "no transactions": [],
        "line without netAmount": [expense(lines=[{"taxAmount": 20, "accountRef": {"id": "acc-429"}}])],
    }
    answer = api.post(f"/companies/{company_id}/sync/expenses/expense-transactions", json=batches[case])
    body = assert_codat_error(answer, 400)
    assert any(words in error["message"] for error in body["validation"]["errors"])
    problems = fake.take_invalid_requests()
    assert len(problems) == 1 and words in problems[0] and "expense-transactions" in problems[0]
    assert fake.transactions(company_id) == [] and fake.syncs(company_id) == []


def test_a_company_name_the_spec_pattern_refuses_is_caught(api: httpx.Client, fake: FakeCodat) -> None:
    body = assert_codat_error(api.post("/companies", json={"name": "Acme (UK) Ltd"}), 400)
    assert body["validation"]["errors"][0]["itemId"] == "$.name"
    [problem] = fake.take_invalid_requests()
    assert problem.startswith("POST /companies: $.name: 'Acme (UK) Ltd' does not match")
    assert fake.companies() == []


def test_bad_parameters_and_unknown_paths_are_caught(api: httpx.Client, fake: FakeCodat) -> None:
    assert_codat_error(api.get("/companies", params={"page": 0}), 400)
    assert_codat_error(api.get("/companies/not-a-uuid"), 400)
    assert_codat_error(api.get("/companies/expenses"), 400)
    assert_codat_error(api.get("/expenses"), 404)
    assert_codat_error(api.delete("/companies"), 405)
    problems = fake.take_invalid_requests()
    assert len(problems) == 5
    assert "query parameter page: 0 is less than the minimum of 1" in problems[0]
    assert "path parameter companyId: 'not-a-uuid' is not a 'uuid'" in problems[1]
    assert "GET /expenses: /expenses: No such path" in problems[3]
    assert "DELETE is not an operation" in problems[4]


def test_a_missing_key_is_401_and_breaks_the_spec_a_wrong_key_is_401_only(fake: FakeCodat) -> None:
    missing = httpx.post(f"{fake.url}/companies", json={"name": "Acme"})
    assert_codat_error(missing, 401)
    [problem] = fake.take_invalid_requests()
    assert "Authorization" in problem

    wrong = httpx.post(f"{fake.url}/companies", json={"name": "Acme"}, headers={"Authorization": "Basic bm9wZQ=="})
    assert_codat_error(wrong, 401)
    assert fake.invalid_requests == []  # a wrong key is well-formed; only Codat's answer says no
    assert fake.companies() == []


def test_requests_are_recorded_without_the_key(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    api.get(f"/companies/{company_id}/data/suppliers", params={"page": 1, "pageSize": 3})
    created, listed = fake.requests
    assert (created.method, created.path, created.json, created.status) == (
        "POST",
        "/companies",
        {"name": "Acme Ltd"},
        200,
    )
    assert (listed.method, listed.query, listed.json) == ("GET", {"page": "1", "pageSize": "3"}, None)
    assert created.headers["authorization"] == "<redacted>"
    assert DEFAULT_API_KEY not in repr(fake.requests) and fake.authorization not in repr(fake.requests)


def test_an_operation_of_the_spec_the_fake_lacks_is_501_not_invalid(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    assert_codat_error(api.delete(f"/companies/{company_id}"), 501)
    assert fake.invalid_requests == [] and fake.invalid_responses == []


def test_a_response_the_spec_refuses_is_caught_and_answered_500(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    fake.outcome = lambda transaction: ("Posted", None)  # not a TransactionStatus
    sync_id = push(api, company_id, expense())
    fake.finish_syncs()
    answer = api.get(f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions")
    assert_codat_error(answer, 500)
    assert len(fake.invalid_responses) == 1
    assert "'Posted' is not one of" in fake.invalid_responses[0]
    fake.invalid_responses.clear()  # seen; the fixture's check is for the ones nobody expected


# --- attachments ---------------------------------------------------------------------------------------------------


def upload(api: httpx.Client, company_id: str, sync_id: str, transaction_id: str, data: bytes) -> httpx.Response:
    """A receipt goes on the record the sync made in the books, so only once it is there."""
    path = f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions/{transaction_id}/attachments"
    return api.post(path, files={"file": ("receipt.png", data, "image/png")})


def test_an_attachment_is_stored_with_its_bytes(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    transaction = expense()
    sync_id = push(api, company_id, transaction)
    fake.finish_syncs()
    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    answer = upload(api, company_id, sync_id, transaction["id"], data)
    assert answer.status_code == 200, answer.text
    attached = answer.json()
    assert (attached["companyId"], attached["transactionId"]) == (company_id, transaction["id"])
    [stored] = fake.attachments
    assert (stored.attachment_id, stored.file_name, stored.content_type, stored.data) == (
        attached["id"],
        "receipt.png",
        "image/png",
        data,
    )
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.sync_id == sync_id


@pytest.mark.parametrize(
    ("platform_key", "size", "status"),
    [("gbol", 3 * MB, 200), ("gbol", 3 * MB + 1, 400), ("fbrh", 3 * MB + 1, 200), ("fbrh", 5 * MB + 1, 400)],
)
def test_attachment_size_limits_follow_the_platform(
    api: httpx.Client, fake: FakeCodat, platform_key: str, size: int, status: int
) -> None:
    company_id = ready_company(api, fake, platform_key)
    transaction = expense()
    sync_id = push(api, company_id, transaction)
    fake.finish_syncs()
    answer = upload(api, company_id, sync_id, transaction["id"], b"x" * size)
    if status == 200:
        assert answer.status_code == 200, answer.text
        assert len(fake.attachments[0].data) == size
    else:
        assert "accepts attachments up to" in assert_codat_error(answer, 400)["error"]
        assert fake.attachments == []


def test_quickbooks_desktop_takes_no_attachments(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake, "pqsw")
    transaction = expense()
    sync_id = push(api, company_id, transaction)
    fake.finish_syncs()
    refused = assert_codat_error(upload(api, company_id, sync_id, transaction["id"], b"receipt"), 400)
    assert refused["error"] == "QuickBooks Desktop does not support attachments."
    assert fake.attachments == []


def test_an_attachment_waits_for_its_transaction_to_be_in_the_books(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    transaction = expense()
    sync_id = push(api, company_id, transaction)
    early = assert_codat_error(upload(api, company_id, sync_id, transaction["id"], b"receipt"), 400)
    assert "is not in the accounting platform yet" in early["error"]
    refused = expense(merchantName="REFUSE Ltd")
    refused_sync = push(api, company_id, refused)
    fake.finish_syncs()
    assert upload(api, company_id, sync_id, transaction["id"], b"receipt").status_code == 200
    assert upload(api, company_id, refused_sync, refused["id"], b"receipt").status_code == 400
    assert len(fake.attachments) == 1


def test_an_attachment_must_name_a_transaction_of_the_sync(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    first, second = expense(), expense()
    first_sync = push(api, company_id, first)
    push(api, company_id, second)
    fake.finish_syncs()
    refused = assert_codat_error(upload(api, company_id, first_sync, second["id"], b"receipt"), 400)
    assert "is not part of sync" in refused["error"]
    assert_codat_error(upload(api, company_id, str(uuid.uuid4()), first["id"], b"receipt"), 404)
    assert fake.attachments == []


def test_an_upload_without_the_file_part_is_caught_by_the_spec(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = ready_company(api, fake)
    transaction = expense()
    sync_id = push(api, company_id, transaction)
    path = f"/companies/{company_id}/sync/expenses/syncs/{sync_id}/transactions/{transaction['id']}/attachments"
    assert_codat_error(api.post(path, files={"receipt": ("r.png", b"png", "image/png")}), 400)
    [problem] = fake.take_invalid_requests()
    assert "'file' is a required property" in problem


# --- the link page -------------------------------------------------------------------------------------------------


def test_the_link_page_authorizes_a_connection(api: httpx.Client, fake: FakeCodat) -> None:
    company_id = new_company(api)
    connection = connect(api, company_id, "akxx")
    page = httpx.get(connection["linkUrl"])
    assert page.status_code == 200 and "Oracle NetSuite" in page.text and "Authorize" in page.text
    company_page = httpx.get(f"{fake.url}/link/{company_id}")
    assert connection["linkUrl"] in company_page.text
    authorized = httpx.post(f"{connection['linkUrl']}/authorize", follow_redirects=True)
    assert authorized.status_code == 200 and "Linked" in authorized.text
    assert fake.connections(company_id)[0]["status"] == "Linked"
    # Not part of the API: neither recorded as calls nor held to the spec.
    assert [r.path for r in fake.requests] == ["/companies", f"/companies/{company_id}/connections"]
    assert fake.invalid_requests == []
