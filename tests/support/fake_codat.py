"""A fake of Codat's Sync for Expenses API on 127.0.0.1, held to Codat's own OpenAPI document.

Tests of the Codat backend talk real HTTP to ``FakeCodat.url``. The fake keeps companies, connections, syncs,
transactions and attachments in memory and answers as Codat does (shapes, ErrorMessage bodies, sync status codes,
per-transaction outcomes). What makes it worth trusting: every request it receives and every response it sends is
checked by openapi-core against ``Codat-Sync-Expenses.yaml`` (Codat's published spec, kept in ``/work/shared``).
A request the spec refuses lands in ``invalid_requests`` and is answered 400 (404/405 for an unknown path or
method); a response the spec refuses is a bug in the fake, lands in ``invalid_responses`` and is answered 500.
Tests assert both lists stay empty, so the code under test cannot drift from the real contract unnoticed.

Scripting: ``fail_next`` answers the next matching requests with a fault (optionally after handling them, to play a
lost answer), ``fail_next_sync`` makes the next sync fail with a Codat sync status code, ``outcome`` decides each
transaction's fate, ``complete_link``/``set_connection_status`` play the user's side of the auth flow. A small link
page under ``/link/...`` (outside the spec, not validated) lets a browser do the same.

Spec quirks handled here (see ``_spec``): the document is 3.1 written in 3.0 style, so nulls and multipart bytes need
a tuned validator; ``Transactions`` says ``additionalProperties: false`` next to ``allOf``, which under 3.1 refuses
every property, so it is read as the ``unevaluatedProperties: false`` it means; a few operations do not declare the
error statuses Codat answers them with (e.g. 400 on create-connection), so such error bodies are held to the
``ErrorMessage`` schema itself; ``nullable`` next to a ``$ref`` has no effect, so the fake omits those fields
(``lastSync``) until it has a value, as Codat's own examples do; responses cap ``pageSize`` at 2000 although
requests may ask for 5000, so the fake serves at most 2000 a page.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml
from jsonschema.validators import extend
from openapi_core import Config, OpenAPI
from openapi_core.templating.paths.exceptions import OperationNotFound, PathError, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.request.exceptions import ParameterValidationError, SecurityValidationError
from openapi_core.validation.schemas.factories import SchemaValidatorsFactory
from openapi_core.validation.schemas.validators import SchemaValidator
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator, OAS31Validator
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.servers import ThreadedServer

# Codat's published spec, kept in the repository (tests/contracts/codat/README.md says where it comes from).
SPEC_PATH = Path(__file__).resolve().parents[1] / "contracts/codat/Codat-Sync-Expenses.yaml"
# The spec's only server; requests are validated as if they had been sent there.
SPEC_SERVER = "https://api.codat.io"
DEFAULT_API_KEY = "codat-test-key"

Json = dict[str, Any]
Outcome = tuple[str, str | None]

CONNECTION_STATUSES = ("PendingAuth", "Linked", "Unlinked", "Deauthorized")
# Platform keys the product supports (README of the spec folder), with the names Codat gives them.
PLATFORMS: dict[str, str] = {
    "qhyg": "QuickBooks Online",
    "pqsw": "QuickBooks Desktop",
    "gbol": "Xero",
    "knfz": "Sage Intacct",
    "trji": "Dynamics 365 Business Central",
    "fbrh": "FreeAgent",
    "akxx": "Oracle NetSuite",
    "pdvj": "MYOB Business",
}
QUICKBOOKS_DESKTOP = "pqsw"
PARTNER_EXPENSE_KEY = "expense"
PARTNER_EXPENSE_NAME = "Partner Expense"
_MB = 1024 * 1024
# Attachment size limits from the upload-attachment description; platforms not listed take anything here.
ATTACHMENT_LIMITS: dict[str, int] = {"gbol": 3 * _MB, "fbrh": 5 * _MB, "qhyg": 100 * _MB, "akxx": 100 * _MB}

SYNC_IN_PROGRESS = 1000
SYNC_DATA_PUSHED = 2000
SYNC_NOTHING_PUSHED = 2040
# PagingInfo caps pageSize at 2000 in responses, although the page-size parameter allows 5000 in requests.
MAX_PAGE_SIZE = 2000
REFUSE_MARKER = "REFUSE"
REFUSE_MESSAGE = "The line item total must equal the transaction total"

_FAULT_TEXT = {
    408: "The request timed out.",
    429: "You have made too many requests in a given amount of time; please retry later.",
    500: "There is a problem with our server. Please try again later.",
    503: "The Codat API is temporarily offline for maintenance. Please try again later.",
}
_ALL_TRANSACTION_TYPES = ["Payment", "Refund", "Reward", "Chargeback"]
_EXPENSE_ENDPOINTS = [f"expense-transactions.{kind}" for kind in _ALL_TRANSACTION_TYPES]


# --- the spec and its validator -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    document: Json
    api: OpenAPI
    error_message: SchemaValidator  # components/schemas/ErrorMessage, for error statuses an operation leaves out


def _read_unevaluated(node: Any) -> None:
    """``additionalProperties: false`` beside ``allOf`` (and no ``properties``) means "nothing but what allOf names".

    Under JSON Schema 2020-12 (OAS 3.1) additionalProperties only sees sibling ``properties``, so as written it
    refuses every property (``Transactions`` could never be answered). ``unevaluatedProperties: false`` is the 3.1
    spelling of what the authors meant and keeps the check as strict as intended.
    """
    if isinstance(node, dict):
        if node.get("additionalProperties") is False and "allOf" in node and "properties" not in node:
            del node["additionalProperties"]
            node["unevaluatedProperties"] = False
        for value in node.values():
            _read_unevaluated(value)
    elif isinstance(node, list):
        for value in node:
            _read_unevaluated(value)


@functools.cache
def _spec() -> _Spec:
    """Codat's spec with its validator, built once per process (building it takes about a second)."""
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    _read_unevaluated(document)
    # The document says 3.1 but is written in 3.0 style: `nullable: true` and `format: binary` for multipart files.
    # The plain 3.1 validator refuses null where the spec says nullable and the bytes of an uploaded file, so keep
    # 3.1 for everything but the `type` keyword, which takes OAS 3.0's reading (honours `nullable`, accepts bytes
    # for binary). Formats are checked as a 3.0 reader does (uuid, int32, ...).
    validator_cls = extend(OAS31Validator, {"type": OAS30Validator.VALIDATORS["type"]})
    factory = SchemaValidatorsFactory(validator_cls, format_checker=OAS30ReadValidator.FORMAT_CHECKER)
    api = OpenAPI.from_dict(copy.deepcopy(document), config=Config(schema_validators_factory=factory))
    error_message = factory.create(api.spec, api.spec / "components" / "schemas" / "ErrorMessage")
    return _Spec(document=document, api=api, error_message=error_message)


# openapi-core's caches are not documented as thread-safe, and several fakes (each on its own thread) share one spec.
_VALIDATION_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Problem:
    item_id: str | None
    message: str
    validator: str

    def as_json(self) -> Json:
        return {"itemId": self.item_id, "message": self.message, "validatorName": self.validator}


def _problems_of(error: BaseException) -> list[_Problem]:
    """What openapi-core found wrong, one line per schema error, for a person and for ErrorMessage.validation."""
    where = None
    if isinstance(error, ParameterValidationError):
        where = f"{error.location} parameter {error.name}"
    elif isinstance(error, SecurityValidationError):
        where = "Authorization"
    cause: BaseException | None = error
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            return [
                _Problem(
                    where or schema_error.json_path, _shorten(schema_error.message), f"OpenApi.{schema_error.validator}"
                )
                for schema_error in schema_errors
            ]
        cause = cause.__cause__
    return [_Problem(where, _shorten(str(error)), f"OpenApi.{type(error).__name__}")]


def _shorten(message: str, limit: int = 300) -> str:
    """jsonschema quotes the whole instance ("[...51 transactions...] is too long"); a person needs the start."""
    if len(message) <= limit:
        return message
    # The verdict is at the end ("... is too long"), the offending value at the start: keep both.
    return f"{message[: limit - 100]} … {message[-97:]}"


# --- what the fake keeps -------------------------------------------------------------------------------------------


@dataclass
class CodatRequest:
    """One API call as the fake received it; the Authorization value is never kept."""

    method: str
    path: str
    query: dict[str, str]
    json: Any | None
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int | None = None  # what the fake answered


@dataclass(frozen=True)
class StoredAttachment:
    company_id: str
    sync_id: str
    transaction_id: str
    attachment_id: str
    file_name: str | None
    content_type: str | None
    data: bytes = field(repr=False)
    sha256: str


@dataclass
class _Fault:
    status: int
    times: int
    retry_after: int | None
    path_contains: str | None
    after_handling: bool


@dataclass
class _Connection:
    id: str
    company_id: str
    integration_key: str
    platform_name: str
    source_type: str
    status: str
    created: str
    link_url: str

    def as_json(self) -> Json:
        # Stable per platform, as Codat's integration and source ids are.
        integration_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"codat:integration:{self.integration_key}"))
        source_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"codat:source:{self.integration_key}"))
        return {
            "id": self.id,
            "integrationId": integration_id,
            "integrationKey": self.integration_key,
            "sourceId": source_id,
            "sourceType": self.source_type,
            "platformName": self.platform_name,
            "linkUrl": self.link_url,
            "status": self.status,
            "created": self.created,
            "dataConnectionErrors": None,
        }


@dataclass
class _Transaction:
    id: str
    sync_id: str
    body: Json
    status: str = "Pending"
    message: str | None = None

    def as_json(self) -> Json:
        return {"transactionId": self.id, "status": self.status, "message": self.message, "integrationType": "expenses"}


@dataclass
class _Sync:
    id: str
    company_id: str
    created: str
    created_at: float  # time.monotonic()
    transaction_ids: list[str]
    scripted_failure: tuple[int, str] | None
    code: int = SYNC_IN_PROGRESS
    status: str = "InProgress"
    error_message: str | None = None
    finished: str | None = None

    @property
    def done(self) -> bool:
        return self.finished is not None

    def as_json(self) -> Json:
        return {
            "companyId": self.company_id,
            "syncId": self.id,
            "syncStatusCode": self.code,
            "syncStatus": self.status,
            "errorMessage": self.error_message,
            "syncExceptionMessage": None,
            "syncUtc": self.finished or self.created,
            "dataPushed": self.code == SYNC_DATA_PUSHED,
        }


@dataclass
class _Company:
    id: str
    name: str
    description: str
    created: str
    redirect: str
    base_currency: str = "GBP"
    config: Json = field(default_factory=dict)
    connections: dict[str, _Connection] = field(default_factory=dict)
    syncs: dict[str, _Sync] = field(default_factory=dict)
    transactions: dict[str, _Transaction] = field(default_factory=dict)

    def as_json(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "redirect": self.redirect,
            "created": self.created,
            "products": [],
            "dataConnections": [connection.as_json() for connection in self.connections.values()],
            "referenceSubsidiaryCompanies": [],
        }

    def linked_accounting(self) -> _Connection | None:
        return next(
            (c for c in self.connections.values() if c.source_type == "Accounting" and c.status == "Linked"), None
        )

    def partner_expense(self) -> _Connection | None:
        return next((c for c in self.connections.values() if c.source_type == "Expense"), None)


class CodatError(Exception):
    """An answer in Codat's ErrorMessage shape; handlers raise it, the pipeline renders it."""

    def __init__(self, status: int, error: str, problems: list[_Problem] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.problems = problems


def error_body(status: int, error: str, problems: list[_Problem] | None = None) -> Json:
    body: Json = {
        "statusCode": status,
        "service": "PublicApi",
        "error": error,
        "correlationId": secrets.token_hex(16),
        "canBeRetried": "Unknown",
        "detailedErrorCode": 0,
    }
    if problems is not None:
        body["validation"] = {"errors": [problem.as_json() for problem in problems], "warnings": []}
    return body


def default_outcome(transaction: Json) -> Outcome:
    """Codat refuses what the platform refuses; a merchant named "…REFUSE…" stands in for that here."""
    if REFUSE_MARKER in str(transaction.get("merchantName") or ""):
        return "ValidationError", REFUSE_MESSAGE
    return "Completed", None


# --- reference data every company's (pretend) ledger holds ---------------------------------------------------------


def _account(account_id: str, code: str | None, name: str, kind: str, category: str, *, bank: bool = False) -> Json:
    return {
        "id": account_id,
        "nominalCode": code,
        "name": name,
        "currency": "",  # filled with the company's base currency when served
        "accountType": kind,
        "fullyQualifiedCategory": category,
        "isBankAccount": bank,
        "validTransactionTypes": list(_ALL_TRANSACTION_TYPES),
        "validFor": [*_EXPENSE_ENDPOINTS, "reimbursable-expense-transactions"]
        if not bank
        else list(_EXPENSE_ENDPOINTS),
    }


ACCOUNTS: list[Json] = [
    _account("acc-400", "400", "Advertising", "Expense", "Expense.Overhead"),
    _account("acc-420", "420", "Entertainment", "Expense", "Expense.Overhead"),
    _account("acc-429", "429", "General Expenses", "Expense", "Expense.Overhead"),
    _account("acc-461", "461", "Printing & Stationery", "Expense", "Expense.Overhead"),
    _account("acc-493", "493", "Travel - National", "Expense", "Expense.Overhead"),
    _account("acc-310", None, "Cost of Goods Sold", "Expense", "Expense.DirectCosts"),
    _account("acc-090", "090", "Business Current Account", "Asset", "Asset.Current.Bank", bank=True),
    _account("acc-091", "091", "Company Credit Card", "Liability", "Liability.Current.CreditCard", bank=True),
]
TAX_RATES: list[Json] = [
    {
        "id": "INPUT2",
        "name": "20% (VAT on Expenses)",
        "code": "INPUT2",
        "effectiveTaxRate": 20,
        "totalTaxRate": 20,
        "validTransactionTypes": list(_ALL_TRANSACTION_TYPES),
    },
    {
        "id": "RRINPUT",
        "name": "5% (VAT on Expenses)",
        "code": "RRINPUT",
        "effectiveTaxRate": 5,
        "totalTaxRate": 5,
        "validTransactionTypes": list(_ALL_TRANSACTION_TYPES),
    },
    {
        "id": "NONE",
        "name": "No VAT",
        "code": None,
        "effectiveTaxRate": 0,
        "totalTaxRate": 0,
        "validTransactionTypes": list(_ALL_TRANSACTION_TYPES),
    },
]
TRACKING_CATEGORIES: list[Json] = [
    {"id": "DEPARTMENTS", "name": "Departments", "hasChildren": True, "parentId": None},
    {"id": "DEPARTMENT_1", "name": "Sales", "hasChildren": False, "parentId": "DEPARTMENTS"},
    {"id": "DEPARTMENT_2", "name": "Engineering", "hasChildren": False, "parentId": "DEPARTMENTS"},
    {"id": "DEPARTMENT_3", "name": "Operations", "hasChildren": False, "parentId": "DEPARTMENTS"},
]
SUPPLIERS: list[tuple[str, str]] = [
    ("sup-001", "Card Expenses Supplier"),
    ("sup-002", "Amazon UK"),
    ("sup-003", "Trainline"),
    ("sup-004", "Pret A Manger"),
    ("sup-005", "Staples"),
]
CUSTOMERS: list[tuple[str, str]] = [
    ("cus-001", "Rebillable Expenses"),
    ("cus-002", "Acme Retail Ltd"),
    ("cus-003", "Globex Corporation"),
    ("cus-004", "Initech"),
    ("cus-005", "Umbrella Holdings"),
]
DEFAULT_CONFIG: Json = {"bankAccount": {"id": "acc-091"}, "supplier": {"id": "sup-001"}, "customer": {"id": "cus-001"}}
_MODIFIED = "2024-01-01T00:00:00Z"


def _contact(contact_id: str, name: str, name_key: str, currency: str) -> Json:
    return {
        "id": contact_id,
        name_key: name,
        "contactName": None,
        "emailAddress": None,
        "phone": None,
        "addresses": [],
        "registrationNumber": None,
        "taxNumber": None,
        "status": "Active",
        "defaultCurrency": currency,
        "modifiedDate": _MODIFIED,
        "sourceModifiedDate": _MODIFIED,
    }


# --- the fake ------------------------------------------------------------------------------------------------------


@dataclass
class _Call:
    """What a handler needs of a request, parsed once by the pipeline."""

    path: dict[str, str]
    query: dict[str, str]
    body: Any | None
    file: tuple[str | None, str | None, bytes] | None = None  # (file name, content type, bytes) of an upload


Handler = Callable[["FakeCodat", _Call], tuple[int, Any]]


class FakeCodat:
    """Starts in ``__enter__`` (or ``start()``), stops in ``__exit__``; give ``url`` and ``api_key`` to the client."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, processing_seconds: float = 0.3) -> None:
        self.api_key = api_key
        self.processing_seconds = processing_seconds
        self.outcome: Callable[[Json], Outcome] = default_outcome
        self.requests: list[CodatRequest] = []
        self.invalid_requests: list[str] = []
        self.invalid_responses: list[str] = []
        self.attachments: list[StoredAttachment] = []
        # Re-entrant: `outcome` is test code called while the state is held, and may read the fake back.
        self._lock = threading.RLock()
        self._companies: dict[str, _Company] = {}
        self._faults: list[_Fault] = []
        self._sync_failures: list[tuple[int, str]] = []
        self._spec = _spec()
        self._check_routes_against_spec()
        self._server = ThreadedServer(self._app(), "fake-codat")
        self.url = self._server.url

    # lifecycle

    def start(self) -> FakeCodat:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeCodat:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def authorization(self) -> str:
        """The Authorization header value Codat expects for ``api_key``."""
        return "Basic " + base64.b64encode(self.api_key.encode()).decode()

    def assert_spec_clean(self) -> None:
        """Nothing sent to the fake broke the spec, and nothing the fake sent did either."""
        assert not self.invalid_requests, "requests Codat's spec refuses:\n" + "\n".join(self.invalid_requests)
        assert not self.invalid_responses, "the fake answered outside the spec:\n" + "\n".join(self.invalid_responses)

    def take_invalid_requests(self) -> list[str]:
        """The invalid requests so far, clearing them, for tests that send bad requests on purpose."""
        with self._lock:
            taken = list(self.invalid_requests)
            self.invalid_requests.clear()
            return taken

    # scripting

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: int | None = None,
        path_contains: str | None = None,
        after_handling: bool = False,
    ) -> None:
        """Answer the next ``times`` valid requests (whose path contains ``path_contains``) with ``status``.

        ``after_handling`` handles the request first (its state changes stay) and loses the answer, as when a
        response never reaches the client.
        """
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after, path_contains, after_handling))

    def fail_next_sync(self, code: int, message: str) -> None:
        """The next sync created ends ``Failed`` with this syncStatusCode; its transactions end ``PushError``."""
        with self._lock:
            self._sync_failures.append((code, message))

    def finish_syncs(self) -> None:
        """Finish every sync still in progress, now."""
        with self._lock:
            for company in self._companies.values():
                for sync in company.syncs.values():
                    if not sync.done:
                        self._finish(company, sync)

    def complete_link(self, company_id: str, connection_id: str | None = None) -> Json:
        """The user authorizes the connection (by default the company's only PendingAuth accounting one)."""
        with self._lock:
            company = self._company(company_id)
            if connection_id is None:
                pending = [
                    c
                    for c in company.connections.values()
                    if c.source_type == "Accounting" and c.status == "PendingAuth"
                ]
                if len(pending) != 1:
                    raise LookupError(f"company {company_id} has {len(pending)} PendingAuth accounting connections")
                connection = pending[0]
            else:
                connection = self._connection(company, connection_id)
            connection.status = "Linked"
            return connection.as_json()

    def set_connection_status(self, company_id: str, connection_id: str, status: str) -> None:
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"{status!r} is not one of {CONNECTION_STATUSES}")
        with self._lock:
            self._connection(self._company(company_id), connection_id).status = status

    def set_base_currency(self, company_id: str, code: str) -> None:
        with self._lock:
            self._company(company_id).base_currency = code

    def set_config(
        self,
        company_id: str,
        *,
        bank_account: str | None = None,
        supplier: str | None = None,
        customer: str | None = None,
    ) -> None:
        with self._lock:
            config = self._company(company_id).config
            for key, value in (("bankAccount", bank_account), ("supplier", supplier), ("customer", customer)):
                if value is not None:
                    config[key] = {"id": value}

    # reading state back (plain dicts, copies)

    def companies(self) -> list[Json]:
        with self._lock:
            return [company.as_json() for company in self._companies.values()]

    def connections(self, company_id: str) -> list[Json]:
        with self._lock:
            return [connection.as_json() for connection in self._company(company_id).connections.values()]

    def syncs(self, company_id: str) -> list[Json]:
        with self._lock:
            company = self._company(company_id)
            self._settle(company)
            return [sync.as_json() for sync in company.syncs.values()]

    def transactions(self, company_id: str) -> list[Json]:
        """Every transaction pushed for the company: id, syncId, status, message and the body as sent."""
        with self._lock:
            company = self._company(company_id)
            self._settle(company)
            return [
                {
                    "id": t.id,
                    "syncId": t.sync_id,
                    "status": t.status,
                    "message": t.message,
                    "body": copy.deepcopy(t.body),
                }
                for t in company.transactions.values()
            ]

    # --- HTTP ------------------------------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        routes = [
            Route("/link/{companyId}", self._link_company_page, methods=["GET"]),
            Route("/link/{companyId}/{connectionId}", self._link_page, methods=["GET"]),
            Route("/link/{companyId}/{connectionId}/authorize", self._link_authorize, methods=["POST"]),
        ]
        routes += [Route(path, self._endpoint(handler), methods=[method]) for method, path, handler in _OPERATIONS]
        # Anything else still goes through the pipeline: recorded, validated, and refused in Codat's shape.
        routes.append(Route("/{rest:path}", self._endpoint(None), methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        return Starlette(routes=routes)

    def _check_routes_against_spec(self) -> None:
        paths = self._spec.document["paths"]
        for method, path, _ in _OPERATIONS:
            assert method.lower() in paths.get(path, {}), f"the fake serves {method} {path}, which the spec lacks"

    def _endpoint(self, handler: Handler | None) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, handler)

        return endpoint

    async def _serve(self, request: Request, handler: Handler | None) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        parsed = _parse_json(body) if content_type.startswith("application/json") else None
        headers = {k: ("<redacted>" if k == "authorization" else v) for k, v in request.headers.items()}
        record = CodatRequest(
            request.method, request.url.path, dict(request.query_params), parsed, headers, time.monotonic()
        )
        with self._lock:
            self.requests.append(record)
        spec_request = MockRequest(
            SPEC_SERVER,
            request.method,
            request.url.path,
            args=dict(request.query_params),
            headers=dict(request.headers),
            data=body or None,
            content_type=content_type,
        )
        refusal = self._validate_request(spec_request)
        authorized = hmac.compare_digest(request.headers.get("authorization", ""), self.authorization)

        extra_headers: dict[str, str] = {}
        if not authorized:
            status, answer = 401, error_body(401, "Unauthorized")
        elif refusal is not None:
            status, answer = refusal.status, error_body(refusal.status, refusal.error, refusal.problems)
        else:
            fault = self._take_fault(request.url.path)
            if fault is None or fault.after_handling:
                call = _Call(dict(request.path_params), dict(request.query_params), parsed)
                if content_type.startswith("multipart/form-data"):
                    call.file = await _read_upload(request)
                status, answer = self._handle(handler, call)
            if fault is not None:
                status, answer = fault.status, error_body(fault.status, _fault_text(fault.status))
                if fault.retry_after is not None:
                    extra_headers["Retry-After"] = str(fault.retry_after)

        status, answer = self._validate_response(spec_request, status, answer)
        record.status = status
        return Response(json.dumps(answer), status, headers=extra_headers, media_type="application/json")

    def _validate_request(self, spec_request: MockRequest) -> CodatError | None:
        """How to refuse the request if the spec does (noting why in invalid_requests); None if it is valid.

        A missing Authorization header is noted too, but refused by the caller with Codat's 401.
        """
        method, path = spec_request.method.upper(), spec_request.path
        refusal: CodatError | None
        try:
            with _VALIDATION_LOCK:
                self._spec.api.validate_request(spec_request)
        except PathNotFound:
            problems = [_Problem(path, "No such path in Codat's spec", "OpenApi.PathNotFound")]
            refusal = CodatError(404, f"No such endpoint: {path}", problems)
        except OperationNotFound:
            problems = [_Problem(path, f"{method} is not an operation of this path", "OpenApi.OperationNotFound")]
            refusal = CodatError(405, f"{method} is not allowed on {path}", problems)
        except SecurityValidationError as error:
            problems, refusal = _problems_of(error), None
        except Exception as error:  # every other openapi-core finding is something the spec refuses
            problems = _problems_of(error)
            refusal = CodatError(400, "Error processing request - not valid.", problems)
        else:
            return None
        described = "; ".join(f"{p.item_id}: {p.message}" if p.item_id else p.message for p in problems)
        with self._lock:
            self.invalid_requests.append(f"{method} {path}: {described}")
        return refusal

    def _validate_response(self, spec_request: MockRequest, status: int, answer: Any) -> tuple[int, Any]:
        """The answer if the spec allows it; otherwise a note in invalid_responses and a 500."""
        data = json.dumps(answer).encode()
        try:
            with _VALIDATION_LOCK:
                try:
                    self._spec.api.validate_response(spec_request, MockResponse(data, status))
                except (PathError, ResponseNotFound):
                    if status < 400:
                        raise
                    # Codat answers some errors an operation does not declare (400 on create-connection, a 404
                    # for an unknown path); such bodies must still be ErrorMessages.
                    self._spec.error_message.validate(answer)
        except Exception as error:
            problems = "; ".join(f"{p.item_id}: {p.message}" if p.item_id else p.message for p in _problems_of(error))
            where = f"{spec_request.method.upper()} {spec_request.path} -> {status}"
            with self._lock:
                self.invalid_responses.append(f"{where}: {problems}")
            return 500, error_body(500, f"The fake's answer broke the spec: {problems}")
        return status, answer

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path_contains is None or fault.path_contains in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def _handle(self, handler: Handler | None, call: _Call) -> tuple[int, Any]:
        if handler is None:
            return 501, error_body(501, "This operation is in Codat's spec but not implemented by the fake.")
        try:
            with self._lock:
                return handler(self, call)
        except CodatError as refusal:
            return refusal.status, error_body(refusal.status, refusal.error, refusal.problems)

    # --- state helpers (called with the lock held) -----------------------------------------------------------------

    def _company(self, company_id: str) -> _Company:
        company = self._companies.get(company_id)
        if company is None:
            raise CodatError(404, f"No company was found with ID {company_id}")
        return company

    def _connection(self, company: _Company, connection_id: str) -> _Connection:
        connection = company.connections.get(connection_id)
        if connection is None:
            raise CodatError(404, f"Data connection {connection_id} not found")
        return connection

    def _sync(self, company: _Company, sync_id: str) -> _Sync:
        self._settle(company)
        sync = company.syncs.get(sync_id)
        if sync is None:
            raise CodatError(404, f"No sync was found with ID {sync_id}")
        return sync

    def _settle(self, company: _Company) -> None:
        """Finish the syncs whose processing time is up; syncs move on when someone looks, not on a timer."""
        now = time.monotonic()
        for sync in company.syncs.values():
            if not sync.done and now - sync.created_at >= self.processing_seconds:
                self._finish(company, sync)

    def _finish(self, company: _Company, sync: _Sync) -> None:
        transactions = [company.transactions[transaction_id] for transaction_id in sync.transaction_ids]
        if sync.scripted_failure is not None:
            sync.code, sync.error_message = sync.scripted_failure
            sync.status = "Failed"
            for transaction in transactions:
                transaction.status, transaction.message = "PushError", sync.error_message
        else:
            for transaction in transactions:
                transaction.status, transaction.message = self.outcome(copy.deepcopy(transaction.body))
            pushed = any(transaction.status == "Completed" for transaction in transactions)
            sync.code = SYNC_DATA_PUSHED if pushed else SYNC_NOTHING_PUSHED
            sync.status = "Complete"
        sync.finished = _now()

    def _add_connection(self, company: _Company, key: str, name: str, source_type: str, status: str) -> _Connection:
        connection_id = str(uuid.uuid4())
        connection = _Connection(
            id=connection_id,
            company_id=company.id,
            integration_key=key,
            platform_name=name,
            source_type=source_type,
            status=status,
            created=_now(),
            link_url=f"{self.url}/link/{company.id}/{connection_id}",
        )
        company.connections[connection_id] = connection
        return connection

    def _paged(self, items: list[Json], call: _Call, path: str) -> Json:
        page = int(call.query.get("page", 1))
        size = min(int(call.query.get("pageSize", 100)), MAX_PAGE_SIZE)
        links: Json = {"self": {"href": path}, "current": {"href": f"{path}?page={page}&pageSize={size}"}}
        if page * size < len(items):
            links["next"] = {"href": f"{path}?page={page + 1}&pageSize={size}"}
        if page > 1:
            links["previous"] = {"href": f"{path}?page={page - 1}&pageSize={size}"}
        return {
            "results": items[(page - 1) * size : page * size],
            "pageNumber": page,
            "pageSize": size,
            "totalResults": len(items),
            "_links": links,
        }

    # --- operations (lock held; paths exactly as in the spec) -----------------------------------------------------

    def _create_company(self, call: _Call) -> tuple[int, Any]:
        body = call.body if isinstance(call.body, dict) else {}
        if not body.get("name"):
            raise CodatError(400, "A company needs a name.", [_Problem("name", "name is required", "Required")])
        company_id = str(uuid.uuid4())
        company = _Company(
            id=company_id,
            name=body["name"],
            description=body.get("description") or "",
            created=_now(),
            redirect=f"{self.url}/link/{company_id}",
            config=copy.deepcopy(DEFAULT_CONFIG),
        )
        self._companies[company_id] = company
        return 200, company.as_json()

    def _list_companies(self, call: _Call) -> tuple[int, Any]:
        return 200, self._paged([c.as_json() for c in self._companies.values()], call, "/companies")

    def _get_company(self, call: _Call) -> tuple[int, Any]:
        return 200, self._company(call.path["companyId"]).as_json()

    def _list_connections(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        items = [connection.as_json() for connection in company.connections.values()]
        return 200, self._paged(items, call, f"/companies/{company.id}/connections")

    def _create_connection(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        key = (call.body or {}).get("platformKey")
        if key not in PLATFORMS:
            problem = _Problem("platformKey", f"{key!r} is not a platform key this account can use", "PlatformKey")
            raise CodatError(400, "Unknown platform key", [problem])
        connection = self._add_connection(company, key, PLATFORMS[key], "Accounting", "PendingAuth")
        return 200, connection.as_json()

    def _get_connection(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        return 200, self._connection(company, call.path["connectionId"]).as_json()

    def _unlink_connection(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        connection = self._connection(company, call.path["connectionId"])
        if (call.body or {}).get("status") != "Unlinked":
            raise CodatError(400, 'A connection can only be patched to {"status": "Unlinked"}.')
        connection.status = "Unlinked"
        return 200, connection.as_json()

    def _create_partner_expense_connection(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        existing = company.partner_expense()
        if existing is not None:
            return 200, existing.as_json()
        if company.linked_accounting() is None:
            raise CodatError(400, "The company has no linked accounting platform: link an accounting platform first.")
        connection = self._add_connection(company, PARTNER_EXPENSE_KEY, PARTNER_EXPENSE_NAME, "Expense", "Linked")
        return 200, connection.as_json()

    def _company_info(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        linked = company.linked_accounting()
        return 200, {
            "companyName": company.name,
            "accountingPlatformRef": linked.id if linked else None,
            "companyLegalName": None,
            "addresses": [],
            "phoneNumbers": [],
            "webLinks": [],
            "registrationNumber": None,
            "taxNumber": None,
            "financialYearStartDate": "2024-04-01T00:00:00",
            "baseCurrency": company.base_currency,
            "sourceUrls": {},
            "createdDate": company.created,
        }

    def _get_config(self, call: _Call) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._company(call.path["companyId"]).config)

    def _set_config(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        body = call.body or {}
        problems = []
        checks = (
            ("bankAccount", {a["id"] for a in ACCOUNTS if a["isBankAccount"]}),
            ("supplier", {s for s, _ in SUPPLIERS}),
            ("customer", {c for c, _ in CUSTOMERS}),
        )
        for key, known in checks:
            chosen = (body.get(key) or {}).get("id")
            if chosen not in known:
                problems.append(_Problem(f"{key}.id", f"{chosen!r} is not a known {key}", "Reference"))
        if problems:
            raise CodatError(
                400, "The configuration refers to records the accounting platform does not have.", problems
            )
        company.config = {key: {"id": body[key]["id"]} for key, _ in checks}
        return 200, copy.deepcopy(company.config)

    def _mapping_options(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        accounts = [account | {"currency": company.base_currency} for account in copy.deepcopy(ACCOUNTS)]
        return 200, {
            "expenseProvider": PARTNER_EXPENSE_NAME if company.partner_expense() else None,
            "accounts": accounts,
            "taxRates": copy.deepcopy(TAX_RATES),
            "trackingCategories": copy.deepcopy(TRACKING_CATEGORIES),
        }

    def _list_suppliers(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        items = [_contact(i, name, "supplierName", company.base_currency) for i, name in SUPPLIERS]
        return 200, self._paged(items, call, f"/companies/{company.id}/data/suppliers")

    def _list_customers(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        items = [_contact(i, name, "customerName", company.base_currency) for i, name in CUSTOMERS]
        return 200, self._paged(items, call, f"/companies/{company.id}/data/customers")

    def _create_expense_transactions(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        if company.linked_accounting() is None:
            raise CodatError(400, "The company has no linked accounting platform, so expenses cannot be pushed.")
        if company.partner_expense() is None:
            raise CodatError(400, "The company has no partner expense connection; create one before pushing expenses.")
        batch: list[Json] = call.body or []  # the spec guarantees 1-50 transactions by now
        problems: list[_Problem] = []
        seen: set[str] = set()
        for transaction in batch:
            transaction_id = transaction["id"]
            known = company.transactions.get(transaction_id)
            # A refused transaction never reached the books, so its id may be pushed again (Fix and retry);
            # the company keeps its latest attempt.
            if known is not None and known.status not in ("ValidationError", "PushError"):
                problems.append(
                    _Problem(
                        transaction_id, "A transaction with this id has already been pushed", "DuplicateTransaction"
                    )
                )
            elif transaction_id in seen:
                problems.append(
                    _Problem(
                        transaction_id,
                        "This transaction id appears more than once in the request",
                        "DuplicateTransaction",
                    )
                )
            seen.add(transaction_id)
        if problems:
            raise CodatError(400, "Error processing request - duplicate transactions.", problems)
        sync = _Sync(
            id=str(uuid.uuid4()),
            company_id=company.id,
            created=_now(),
            created_at=time.monotonic(),
            transaction_ids=[t["id"] for t in batch],
            scripted_failure=self._sync_failures.pop(0) if self._sync_failures else None,
        )
        company.syncs[sync.id] = sync
        for transaction in batch:
            company.transactions[transaction["id"]] = _Transaction(
                transaction["id"], sync.id, copy.deepcopy(transaction)
            )
        return 200, {"syncId": sync.id}

    def _sync_status(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        return 200, self._sync(company, call.path["syncId"]).as_json()

    def _list_syncs(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        self._settle(company)
        return 200, [sync.as_json() for sync in company.syncs.values()]

    def _latest_sync(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        self._settle(company)
        if not company.syncs:
            raise CodatError(404, f"No syncs were found for company {company.id}")
        return 200, list(company.syncs.values())[-1].as_json()

    def _last_successful_sync(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        self._settle(company)
        successful = [s for s in company.syncs.values() if s.code in (SYNC_DATA_PUSHED, SYNC_NOTHING_PUSHED)]
        if not successful:
            raise CodatError(404, f"No successful syncs were found for company {company.id}")
        return 200, successful[-1].as_json()

    def _sync_transactions(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        sync = self._sync(company, call.path["syncId"])
        items = [company.transactions[transaction_id].as_json() for transaction_id in sync.transaction_ids]
        return 200, self._paged(items, call, f"/companies/{company.id}/sync/expenses/syncs/{sync.id}/transactions")

    def _sync_transaction(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        sync = self._sync(company, call.path["syncId"])
        transaction_id = call.path["transactionId"]
        if transaction_id not in sync.transaction_ids:
            raise CodatError(404, f"Transaction {transaction_id} is not part of sync {sync.id}")
        return 200, [company.transactions[transaction_id].as_json()]

    def _upload_attachment(self, call: _Call) -> tuple[int, Any]:
        company = self._company(call.path["companyId"])
        sync = self._sync(company, call.path["syncId"])
        transaction_id = call.path["transactionId"]
        if transaction_id not in sync.transaction_ids:
            raise CodatError(400, f"Transaction {transaction_id} is not part of sync {sync.id}.")
        self._settle(company)
        if company.transactions[transaction_id].status != "Completed":
            # The file is attached to the record the sync made in the books: there is none before it completes.
            raise CodatError(400, f"Transaction {transaction_id} is not in the accounting platform yet.")
        linked = company.linked_accounting()
        if linked is None:
            raise CodatError(400, "The company has no linked accounting platform to attach the file in.")
        if linked.integration_key == QUICKBOOKS_DESKTOP:
            raise CodatError(400, "QuickBooks Desktop does not support attachments.")
        assert call.file is not None  # the spec requires the file part
        file_name, content_type, data = call.file
        limit = ATTACHMENT_LIMITS.get(linked.integration_key)
        if limit is not None and len(data) > limit:
            raise CodatError(
                400,
                f"The file is {len(data)} bytes; {linked.platform_name} accepts attachments up to {limit // _MB} MB.",
            )
        attachment = StoredAttachment(
            company_id=company.id,
            sync_id=sync.id,
            transaction_id=transaction_id,
            attachment_id=str(uuid.uuid4()),
            file_name=file_name,
            content_type=content_type,
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
        )
        self.attachments.append(attachment)
        return 200, {"companyId": company.id, "id": attachment.attachment_id, "transactionId": transaction_id}

    # --- the link pages (outside the spec: a stand-in for Codat's hosted Link) ------------------------------------

    async def _link_company_page(self, request: Request) -> Response:
        company_id = request.path_params["companyId"]
        with self._lock:
            company = self._companies.get(company_id)
            if company is None:
                return HTMLResponse("<h1>No such company</h1>", 404)
            items = "".join(
                f'<li><a href="{html.escape(c.link_url)}">{html.escape(c.platform_name)}</a> ({c.status})</li>'
                for c in company.connections.values()
                if c.source_type == "Accounting"
            )
            name = html.escape(company.name)
        return HTMLResponse(f"<!DOCTYPE html><html><body><h1>Connect {name}</h1><ul>{items}</ul></body></html>")

    async def _link_page(self, request: Request) -> Response:
        company_id, connection_id = request.path_params["companyId"], request.path_params["connectionId"]
        with self._lock:
            company = self._companies.get(company_id)
            connection = company.connections.get(connection_id) if company else None
            if company is None or connection is None:
                return HTMLResponse("<h1>No such connection</h1>", 404)
            name, platform, status = html.escape(company.name), html.escape(connection.platform_name), connection.status
        action = f"/link/{company_id}/{connection_id}/authorize"
        return HTMLResponse(
            f"<!DOCTYPE html><html><head><title>Connect {platform}</title></head><body>"
            f"<h1>Connect {name} to {platform}</h1><p>Status: <span id='status'>{status}</span></p>"
            f'<form method="post" action="{action}"><button type="submit">Authorize</button></form></body></html>'
        )

    async def _link_authorize(self, request: Request) -> Response:
        company_id, connection_id = request.path_params["companyId"], request.path_params["connectionId"]
        try:
            self.complete_link(company_id, connection_id)
        except CodatError:
            return HTMLResponse("<h1>No such connection</h1>", 404)
        return RedirectResponse(f"/link/{company_id}/{connection_id}", status_code=303)


# Literal segments (list, latest, lastSuccessful) come before {syncId}, which would otherwise swallow them.
_OPERATIONS: list[tuple[str, str, Handler]] = [
    ("GET", "/companies", FakeCodat._list_companies),
    ("POST", "/companies", FakeCodat._create_company),
    ("GET", "/companies/{companyId}", FakeCodat._get_company),
    ("GET", "/companies/{companyId}/connections", FakeCodat._list_connections),
    ("POST", "/companies/{companyId}/connections", FakeCodat._create_connection),
    ("GET", "/companies/{companyId}/connections/{connectionId}", FakeCodat._get_connection),
    ("PATCH", "/companies/{companyId}/connections/{connectionId}", FakeCodat._unlink_connection),
    (
        "POST",
        "/companies/{companyId}/sync/expenses/connections/partnerExpense",
        FakeCodat._create_partner_expense_connection,
    ),
    ("GET", "/companies/{companyId}/data/info", FakeCodat._company_info),
    ("GET", "/companies/{companyId}/sync/expenses/config", FakeCodat._get_config),
    ("POST", "/companies/{companyId}/sync/expenses/config", FakeCodat._set_config),
    ("GET", "/companies/{companyId}/sync/expenses/mappingOptions", FakeCodat._mapping_options),
    ("GET", "/companies/{companyId}/data/suppliers", FakeCodat._list_suppliers),
    ("GET", "/companies/{companyId}/data/customers", FakeCodat._list_customers),
    ("POST", "/companies/{companyId}/sync/expenses/expense-transactions", FakeCodat._create_expense_transactions),
    ("GET", "/companies/{companyId}/sync/expenses/syncs/list/status", FakeCodat._list_syncs),
    ("GET", "/companies/{companyId}/sync/expenses/syncs/latest/status", FakeCodat._latest_sync),
    ("GET", "/companies/{companyId}/sync/expenses/syncs/lastSuccessful/status", FakeCodat._last_successful_sync),
    ("GET", "/companies/{companyId}/sync/expenses/syncs/{syncId}/status", FakeCodat._sync_status),
    ("GET", "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions", FakeCodat._sync_transactions),
    (
        "GET",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}",
        FakeCodat._sync_transaction,
    ),
    (
        "POST",
        "/companies/{companyId}/sync/expenses/syncs/{syncId}/transactions/{transactionId}/attachments",
        FakeCodat._upload_attachment,
    ),
]


@contextlib.contextmanager
def running_fake_codat(api_key: str = DEFAULT_API_KEY, *, processing_seconds: float = 0.3) -> Iterator[FakeCodat]:
    """For a fixture: ``with running_fake_codat() as fake: yield fake``; on the way out, both spec lists must be
    empty (tests that send bad requests on purpose take theirs with ``take_invalid_requests``)."""
    with FakeCodat(api_key, processing_seconds=processing_seconds) as fake:
        yield fake
        fake.assert_spec_clean()


# --- small helpers -------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_json(body: bytes) -> Any | None:
    """Money stays exact: JSON numbers with a fraction become Decimal."""
    if not body:
        return None
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        return None


async def _read_upload(request: Request) -> tuple[str | None, str | None, bytes] | None:
    async with request.form() as form:
        part = form.get("file")
        if isinstance(part, UploadFile):
            return part.filename, part.content_type, await part.read()
        if isinstance(part, str):
            return None, None, part.encode()
    return None


def _fault_text(status: int) -> str:
    if status in _FAULT_TEXT:
        return _FAULT_TEXT[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"
