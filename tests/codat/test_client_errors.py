"""Codat's failures as the bot's typed errors, and the retries in between, over real HTTP on 127.0.0.1.

Most faults come from the fake Codat's ``fail_next`` (so every request and answer is still held to the spec);
what the fake never answers (a proxy's HTML page, 402/403, a body echoing the key, an answer that never comes)
comes from a small scripted server.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from apiclient.retry import RetryPolicy
from codat.client import CodatClient
from codat.errors import (
    BadRequestError,
    CodatAPIError,
    CodatTransportError,
    ForbiddenError,
    NotFoundError,
    PaymentRequiredError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    UnauthorizedError,
    ValidationFailedError,
    codat_error_from_response,
)
from codat.models import ExpenseTransaction, ExpenseTransactionLine, RecordRef
from tests.support.fake_codat import FakeCodat
from tests.support.servers import ThreadedServer

KEY = "codat-test-key"
FAST = RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05)


class Pauses:
    """The client's ``sleep``: notes every pause and takes none, so backoff costs the test nothing."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeCodat]:
    with FakeCodat(KEY) as running:
        yield running
        assert running.invalid_requests == []
        assert running.invalid_responses == []


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
async def client(fake: FakeCodat, pauses: Pauses) -> AsyncIterator[CodatClient]:
    async with CodatClient(fake.url, KEY, retry=FAST, sleep=pauses) as codat:
        yield codat


async def linked_company(fake: FakeCodat, client: CodatClient) -> str:
    company = await client.create_company("Faults Ltd")
    await client.create_connection(company.id, "gbol")
    fake.complete_link(company.id)
    await client.create_partner_expense_connection(company.id)
    return company.id


def payment(amount: str = "12.50") -> ExpenseTransaction:
    return ExpenseTransaction(
        id=str(uuid.uuid4()),
        type="Payment",
        issue_date=date(2024, 5, 21),
        currency="GBP",
        merchant_name="Trainline",
        lines=[ExpenseTransactionLine(net_amount=Decimal(amount), account_ref=RecordRef(id="acc-493"))],
    )


def attempts(fake: FakeCodat, path_end: str) -> list[int | None]:
    """The statuses the fake answered to requests whose path ends so, in order."""
    return [r.status for r in fake.requests if r.path.endswith(path_end)]


# ---------------------------------------------------------------------------------------------- retried, then fine


async def test_a_429_with_retry_after_is_waited_out_for_real_and_then_succeeds(fake: FakeCodat) -> None:
    company_id = None
    async with CodatClient(fake.url, KEY, retry=FAST) as client:  # the real asyncio.sleep
        company_id = (await client.create_company("Patient Ltd")).id
        fake.fail_next(429, retry_after=1, path_contains="/data/info")
        started = time.monotonic()
        info = await client.get_company_info(company_id)
        waited = time.monotonic() - started
    assert info.company_name == "Patient Ltd"
    assert attempts(fake, "/data/info") == [429, 200]
    first, second = [r.at for r in fake.requests if r.path.endswith("/data/info")]
    assert second - first >= 1.0 and waited >= 1.0
    assert waited < 3.0


async def test_a_429_is_retried_even_for_a_call_that_is_not_idempotent(
    fake: FakeCodat, client: CodatClient, pauses: Pauses
) -> None:
    fake.fail_next(429, retry_after=2, path_contains="/companies")
    company = await client.create_company("Rate Limited Ltd")
    assert [c["id"] for c in fake.companies()] == [company.id]  # exactly one
    assert len(pauses.taken) == 1 and 2.0 <= pauses.taken[0] <= 2.0 + FAST.backoff_base


async def test_503_twice_is_retried_then_succeeds(fake: FakeCodat, client: CodatClient, pauses: Pauses) -> None:
    company = await client.create_company("Flaky Ltd")
    fake.fail_next(503, times=2, path_contains="/connections")
    await client.list_connections(company.id)
    assert attempts(fake, "/connections") == [503, 503, 200]
    assert len(pauses.taken) == 2 and all(0 <= p <= FAST.backoff_max for p in pauses.taken)


async def test_a_408_is_retried_like_a_5xx(fake: FakeCodat, client: CodatClient, pauses: Pauses) -> None:
    company = await client.create_company("Slow Ltd")
    fake.fail_next(408, path_contains="/sync/expenses/config")
    config = await client.get_config(company.id)
    assert config.supplier is not None and config.supplier.id == "sup-001"
    assert attempts(fake, "/sync/expenses/config") == [408, 200]
    # 408 says Codat never finished reading the request, so even a POST is sent again.
    fake.fail_next(408, path_contains="/connections")
    await client.create_connection(company.id, "gbol")
    assert attempts(fake, "/connections") == [408, 200]
    assert len(fake.connections(company.id)) == 1


async def test_a_500_on_a_post_that_is_not_idempotent_is_not_repeated(
    fake: FakeCodat, client: CodatClient, pauses: Pauses
) -> None:
    fake.fail_next(500, path_contains="/companies", after_handling=True)  # handled, but the answer lost
    with pytest.raises(ServerError) as failed:
        await client.create_company("Once Ltd")
    assert (failed.value.status, failed.value.code) == (500, "internal_error")
    assert len(fake.companies()) == 1 and pauses.taken == []
    # The same status on a GET is retried.
    company_id = fake.companies()[0]["id"]
    fake.fail_next(500, path_contains="/companies/")
    assert (await client.get_company(company_id)).name == "Once Ltd"
    assert len(pauses.taken) == 1


# ---------------------------------------------------------------------------------------------- given up


async def test_503_more_often_than_the_policy_allows_is_a_server_error(
    fake: FakeCodat, client: CodatClient, pauses: Pauses
) -> None:
    company = await client.create_company("Down Ltd")
    fake.fail_next(503, times=FAST.max_retries + 1, path_contains="/mappingOptions")
    with pytest.raises(ServerError) as failed:
        await client.get_mapping_options(company.id)
    error = failed.value
    assert (type(error), error.status, error.code) == (ServerError, 503, "unavailable")
    assert error.message == "The Codat API is temporarily offline for maintenance. Please try again later."
    assert error.request_id is not None and len(error.request_id) == 32  # Codat's correlationId
    assert attempts(fake, "/mappingOptions") == [503] * (FAST.max_retries + 1)
    assert len(pauses.taken) == FAST.max_retries


async def test_a_408_that_persists_is_a_timeout_server_error(fake: FakeCodat, client: CodatClient) -> None:
    company = await client.create_company("Timeout Ltd")
    fake.fail_next(408, times=FAST.max_retries + 1, path_contains="/data/info")
    with pytest.raises(RequestTimeoutError) as failed:
        await client.get_company_info(company.id)
    assert isinstance(failed.value, ServerError)
    assert (failed.value.status, failed.value.code, failed.value.message) == (408, "timeout", "The request timed out.")


async def test_a_retry_after_beyond_the_policy_is_rate_limited_at_once(fake: FakeCodat, pauses: Pauses) -> None:
    policy = RetryPolicy(max_retries=3, backoff_base=0.01, max_retry_after=30)
    async with CodatClient(fake.url, KEY, retry=policy, sleep=pauses) as client:
        fake.fail_next(429, retry_after=600)
        with pytest.raises(RateLimitedError) as limited:
            await client.list_companies()
    error = limited.value
    assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 600.0)
    assert error.message.startswith("You have made too many requests")
    assert pauses.taken == [] and len(fake.requests) == 1


async def test_a_429_that_persists_is_rate_limited(fake: FakeCodat, client: CodatClient, pauses: Pauses) -> None:
    fake.fail_next(429, times=FAST.max_retries + 1, retry_after=1)
    with pytest.raises(RateLimitedError) as limited:
        await client.list_companies()
    assert limited.value.retry_after == 1.0
    assert len(pauses.taken) == FAST.max_retries and all(p >= 1.0 for p in pauses.taken)


# ---------------------------------------------------------------------------------------------- refused


async def test_validation_errors_become_validation_failed_with_the_item_named(
    fake: FakeCodat, client: CodatClient
) -> None:
    company = await client.create_company("Unknown Platform Ltd")
    with pytest.raises(ValidationFailedError) as refused:
        await client.create_connection(company.id, "zzzz")
    error = refused.value
    assert (error.status, error.code, error.message) == (400, "validation_error", "Unknown platform key")
    assert [(d.field, d.message) for d in error.details] == [
        ("platformKey", "'zzzz' is not a platform key this account can use")
    ]
    assert error.request_id


async def test_a_400_without_validation_errors_is_a_bad_request(fake: FakeCodat, client: CodatClient) -> None:
    company = await client.create_company("Not Linked Ltd")
    with pytest.raises(BadRequestError) as refused:
        await client.create_expense_transactions(company.id, [payment()])
    error = refused.value
    assert (type(error), error.status, error.code, error.details) == (BadRequestError, 400, "bad_request", [])
    assert "no linked accounting platform" in error.message


async def test_a_resent_transaction_id_is_refused_naming_it(fake: FakeCodat, client: CodatClient) -> None:
    company_id = await linked_company(fake, client)
    expense = payment()
    await client.create_expense_transactions(company_id, [expense])
    with pytest.raises(ValidationFailedError) as refused:
        await client.create_expense_transactions(company_id, [expense])
    assert [d.field for d in refused.value.details] == [expense.id]


async def test_a_lost_answer_to_the_expense_post_is_retried_and_meets_the_duplicate_refusal(
    fake: FakeCodat, client: CodatClient, pauses: Pauses
) -> None:
    company_id = await linked_company(fake, client)
    expense = payment("99.99")
    fake.fail_next(503, path_contains="/expense-transactions", after_handling=True)
    with pytest.raises(ValidationFailedError) as refused:
        await client.create_expense_transactions(company_id, [expense])
    error = refused.value
    assert (error.status, error.code) == (400, "validation_error")
    assert [d.field for d in error.details] == [expense.id]
    assert "already been pushed" in error.details[0].message
    assert attempts(fake, "/expense-transactions") == [503, 400]
    # Codat kept the first one, and only it.
    assert [t["id"] for t in fake.transactions(company_id)] == [expense.id]
    assert len(fake.syncs(company_id)) == 1


async def test_a_wrong_key_is_unauthorized_and_never_shown(fake: FakeCodat, pauses: Pauses) -> None:
    wrong = "codat-wrong-key-5f1e"
    async with CodatClient(fake.url, wrong, retry=FAST, sleep=pauses) as client:
        with pytest.raises(UnauthorizedError) as refused:
            await client.list_companies()
    error = refused.value
    assert (error.status, error.code, error.message) == (401, "unauthorized", "Unauthorized")
    encoded = base64.b64encode(wrong.encode()).decode()
    for text in (str(error), error.message, repr(error)):
        assert wrong not in text and encoded not in text
    assert pauses.taken == []


async def test_an_unknown_company_is_not_found(fake: FakeCodat, client: CodatClient) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError) as absent:
        await client.get_company(missing)
    assert (absent.value.status, absent.value.code) == (404, "not_found")
    assert missing in absent.value.message
    with pytest.raises(NotFoundError):
        await client.get_sync_status(missing, str(uuid.uuid4()))


# ---------------------------------------------------------------------------------------------- never answered


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


async def test_a_refused_connection_is_retried_then_a_transport_error(pauses: Pauses) -> None:
    async with CodatClient(closed_port_url(), KEY, retry=FAST, sleep=pauses) as client:
        with pytest.raises(CodatTransportError) as unreachable:
            await client.create_company("Nowhere Ltd")  # never sent, so retried although not idempotent
    message = str(unreachable.value)
    assert message == f"Codat POST /companies failed: ConnectError after {FAST.max_retries + 1} attempts"
    assert KEY not in message
    assert isinstance(unreachable.value.__cause__, httpx.ConnectError)
    assert len(pauses.taken) == FAST.max_retries


class Scripted:
    """A real HTTP server on 127.0.0.1 answering a script of responses (then a tiny company page), or stalling."""

    def __init__(self) -> None:
        self.script: list[Response] = []
        self.stall_seconds = 0.0
        self.requests: list[str] = []

        async def answer(request: Request) -> Response:
            self.requests.append(f"{request.method} {request.url.path}")
            if self.stall_seconds:
                await asyncio.sleep(self.stall_seconds)
            if self.script:
                return self.script.pop(0)
            return JSONResponse({"results": [], "pageNumber": 1, "pageSize": 1, "totalResults": 0, "_links": {}})

        app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PATCH"])])
        self._server = ThreadedServer(app, "scripted codat")
        self.url = self._server.url

    def __enter__(self) -> Scripted:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    with Scripted() as server:
        yield server


async def test_a_read_timeout_is_retried_only_for_idempotent_calls(scripted: Scripted, pauses: Pauses) -> None:
    scripted.stall_seconds = 0.5
    impatient = httpx.Timeout(connect=2.0, read=0.1, write=2.0, pool=2.0)
    async with CodatClient(scripted.url, KEY, retry=FAST, timeout=impatient, sleep=pauses) as client:
        with pytest.raises(CodatTransportError) as get_failed:
            await client.list_companies()
        assert (
            str(get_failed.value) == f"Codat GET /companies failed: ReadTimeout after {FAST.max_retries + 1} attempts"
        )
        assert len(scripted.requests) == FAST.max_retries + 1

        scripted.requests.clear()
        with pytest.raises(CodatTransportError) as post_failed:
            await client.create_company("Maybe Created Ltd")
        assert str(post_failed.value) == "Codat POST /companies failed: ReadTimeout"
        assert scripted.requests == ["POST /companies"]


async def test_a_proxy_page_and_unusual_statuses_are_still_typed(scripted: Scripted, pauses: Pauses) -> None:
    async with CodatClient(scripted.url, KEY, retry=RetryPolicy(max_retries=1, backoff_base=0.01), sleep=pauses) as c:
        scripted.script = [PlainTextResponse("<html>Bad gateway</html>", status_code=502)] * 2
        with pytest.raises(ServerError) as gateway:
            await c.get_company("c1")
        assert (gateway.value.status, gateway.value.code, gateway.value.request_id) == (502, "internal_error", None)
        assert gateway.value.message == "Codat answered 502 Bad Gateway without an error body"

        scripted.script = [Response(b"", status_code=503)] * 2
        with pytest.raises(ServerError) as unavailable:
            await c.get_company("c1")
        assert unavailable.value.code == "unavailable"
        assert unavailable.value.message == "Codat answered 503 Service Unavailable without an error body"

        limit = {"statusCode": 402, "service": "PublicApi", "error": "You have exceeded the 50-company limit"}
        scripted.script = [JSONResponse(limit | {"correlationId": "corr-402"}, status_code=402)]
        with pytest.raises(PaymentRequiredError) as payment_required:
            await c.create_company("One Too Many Ltd")
        assert (payment_required.value.code, payment_required.value.request_id) == ("payment_required", "corr-402")
        assert payment_required.value.message == "You have exceeded the 50-company limit"

        scripted.script = [JSONResponse({"statusCode": 403, "error": "You are using an outdated API key"}, 403)]
        with pytest.raises(ForbiddenError) as forbidden:
            await c.get_company("c1")
        assert (forbidden.value.status, forbidden.value.code) == (403, "forbidden")

        scripted.script = [JSONResponse(["not", "an", "error", "message"], status_code=418)]
        with pytest.raises(CodatAPIError) as odd:
            await c.get_company("c1")
        assert (type(odd.value), odd.value.code) == (CodatAPIError, "http_418")
        assert odd.value.message == "Codat answered 418 I'm a Teapot without an error body"


async def test_an_error_text_that_echoes_the_key_is_scrubbed(scripted: Scripted) -> None:
    encoded = base64.b64encode(KEY.encode()).decode()
    body = {
        "statusCode": 400,
        "error": f"Header 'Basic {encoded}' for key {KEY} is malformed",
        "validation": {"errors": [{"itemId": KEY, "message": f"{KEY} is odd", "validatorName": "Key"}]},
    }
    scripted.script = [JSONResponse(body, status_code=400)]
    async with CodatClient(scripted.url, KEY, retry=FAST) as client:
        with pytest.raises(ValidationFailedError) as refused:
            await client.list_companies()
    text = str(refused.value)
    assert KEY not in text and encoded not in text and "[redacted]" in refused.value.message


async def test_retries_are_logged_with_method_path_and_status_only(
    fake: FakeCodat, client: CodatClient, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(503, times=2)
    with caplog.at_level(logging.WARNING, logger="codat.client"):
        await client.list_companies()
    lines = [r.getMessage() for r in caplog.records if r.name == "codat.client"]
    assert len(lines) == 2 and all(r.levelno == logging.WARNING for r in caplog.records if r.name == "codat.client")
    assert lines[0].startswith("Codat GET /companies answered 503; retry 1 of 3 in ")
    assert all(KEY not in line and "Basic" not in line for line in lines)


def test_codat_error_from_response_reads_the_error_message_body() -> None:
    body: dict[str, Any] = {
        "statusCode": 400,
        "service": "ExpenseSyncApi",
        "error": "Error processing request - not valid.",
        "correlationId": "bc997528a9d7abb9161ef45f05d38599",
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
        "validation": {
            "errors": [
                {"itemId": None, "message": "Currency is required", "validatorName": "Currency"},
                {"itemId": None, "message": None, "validatorName": None},
            ],
            "warnings": [{"itemId": "x", "message": "Just so you know", "validatorName": "W"}],
        },
    }
    error = codat_error_from_response(httpx.Response(400, json=body))
    assert isinstance(error, ValidationFailedError)
    assert [(d.field, d.message) for d in error.details] == [("Currency", "Currency is required"), ("", "is not valid")]
    assert error.request_id == "bc997528a9d7abb9161ef45f05d38599"
    only_warnings = codat_error_from_response(
        httpx.Response(400, json=body | {"validation": {"errors": [], "warnings": body["validation"]["warnings"]}})
    )
    assert type(only_warnings) is BadRequestError and only_warnings.details == []
    limited = codat_error_from_response(httpx.Response(429, headers={"Retry-After": "7"}, json={"error": "Slow down"}))
    assert (type(limited), limited.retry_after, limited.message) == (RateLimitedError, 7.0, "Slow down")
    shapeless = codat_error_from_response(httpx.Response(409, json={"statusCode": "not a number"}))
    assert (shapeless.code, shapeless.message) == ("conflict", "Codat answered 409 Conflict without an error body")
