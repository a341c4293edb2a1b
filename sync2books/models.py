"""The Sync2Books API v1 contract in pydantic: every resource, request and error.

snake_case in Python, camelCase on the wire. Money is ``Decimal`` and never a float: a float handed
to a money field is refused rather than silently converted. Request models are strict about JSON
types (a string is not a number, "true" is not a boolean) because the sandbox validates requests
with them; response models are tolerant readers for the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from money import Money, amount_problem, decimal_places, is_known_currency, json_number

# --------------------------------------------------------------------------- base and scalar types


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


def _positive_rate(value: Any) -> Decimal:
    rate = json_number(value)
    if rate <= 0:
        raise PydanticCustomError("rate_not_positive", "must be greater than 0")
    if decimal_places(rate) > 9:
        raise PydanticCustomError("rate_precision", "must have at most 9 decimal places")
    return rate


Rate = Annotated[Decimal, BeforeValidator(_positive_rate)]


def _issue_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            pass
    raise PydanticCustomError("not_a_date", "must be a real date written YYYY-MM-DD")


IssueDate = Annotated[date, BeforeValidator(_issue_date)]


def _currency_code(value: Any) -> str:
    if not isinstance(value, str) or not is_known_currency(value):
        raise PydanticCustomError("not_a_currency", "must be an ISO 4217 currency code in upper case, like USD")
    return value


CurrencyCode = Annotated[str, BeforeValidator(_currency_code)]


def _uuid_string(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise PydanticCustomError("not_a_uuid", "must be a UUID")


UUIDStr = Annotated[str, BeforeValidator(_uuid_string)]
RefId = Annotated[StrictStr, Field(min_length=1, max_length=100)]

# --------------------------------------------------------------------------- errors


class ErrorDetail(WireModel):
    field: str
    message: str


class ErrorBody(WireModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None


class ErrorEnvelope(WireModel):
    error: ErrorBody


# --------------------------------------------------------------------------- pagination

T = TypeVar("T")


class Page(WireModel, Generic[T]):
    results: list[T]
    page: int
    page_size: int
    total: int


class Results(WireModel, Generic[T]):
    """A list answered whole, not paginated."""

    results: list[T]


# --------------------------------------------------------------------------- integrations


class IntegrationKey(StrEnum):
    QUICKBOOKS = "QUICKBOOKS"
    QUICKBOOKS_DESKTOP = "QUICKBOOKS_DESKTOP"
    XERO = "XERO"
    SAGE = "SAGE"


INTEGRATION_NAMES: dict[IntegrationKey, str] = {
    IntegrationKey.QUICKBOOKS: "QuickBooks Online",
    IntegrationKey.QUICKBOOKS_DESKTOP: "QuickBooks Desktop",
    IntegrationKey.XERO: "Xero",
    IntegrationKey.SAGE: "Sage",
}


class Integration(WireModel):
    integration_key: IntegrationKey
    name: str


class AuthUrl(WireModel):
    company_id: str
    integration_key: IntegrationKey
    auth_url: str
    expires_at: datetime


# --------------------------------------------------------------------------- connections


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"


class ConnectionErrorInfo(WireModel):
    code: str
    message: str


class Connection(WireModel):
    id: str
    company_id: str
    integration_key: IntegrationKey
    platform_name: str
    status: ConnectionStatus
    created_at: datetime
    updated_at: datetime
    base_currency: str
    error: ConnectionErrorInfo | None = None


class ConnectionPatch(WireModel):
    status: Literal[ConnectionStatus.DISCONNECTED]


# --------------------------------------------------------------------------- companies


def _company_name(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("not_a_string", "must be a string")
    name = value.strip()
    if not 1 <= len(name) <= 100:
        raise PydanticCustomError("name_length", "must be 1 to 100 characters (not counting spaces around it)")
    return name


class CompanyCreate(WireModel):
    name: Annotated[str, BeforeValidator(_company_name)]
    description: Annotated[StrictStr, Field(max_length=2000)] | None = None


class Company(WireModel):
    id: str
    name: str
    description: str | None = None
    created_at: datetime
    auth_url: str
    connections: list[Connection] = Field(default_factory=list)


# --------------------------------------------------------------------------- reference data


class AccountType(StrEnum):
    EXPENSE = "Expense"
    ASSET = "Asset"
    LIABILITY = "Liability"
    INCOME = "Income"
    EQUITY = "Equity"


class Account(WireModel):
    id: str
    name: str
    nominal_code: str | None = None
    type: AccountType
    currency: str
    is_bank_account: bool = False


class TaxRate(WireModel):
    id: str
    name: str
    code: str
    effective_rate: Decimal


class Supplier(WireModel):
    id: str
    name: str


class Customer(WireModel):
    id: str
    name: str


class BankAccount(WireModel):
    id: str
    name: str
    currency: str


class TrackingCategory(WireModel):
    id: str
    name: str
    parent_id: str | None = None


class ReferenceKind(StrEnum):
    """The reference-data lists of a connection, by their path segment."""

    ACCOUNTS = "accounts"
    TAX_RATES = "tax-rates"
    SUPPLIERS = "suppliers"
    CUSTOMERS = "customers"
    BANK_ACCOUNTS = "bank-accounts"
    TRACKING_CATEGORIES = "tracking-categories"


REFERENCE_MODELS: dict[ReferenceKind, type[WireModel]] = {
    ReferenceKind.ACCOUNTS: Account,
    ReferenceKind.TAX_RATES: TaxRate,
    ReferenceKind.SUPPLIERS: Supplier,
    ReferenceKind.CUSTOMERS: Customer,
    ReferenceKind.BANK_ACCOUNTS: BankAccount,
    ReferenceKind.TRACKING_CATEGORIES: TrackingCategory,
}


# --------------------------------------------------------------------------- references inside expenses


class Ref(WireModel):
    id: RefId


class ContactType(StrEnum):
    SUPPLIER = "Supplier"
    CUSTOMER = "Customer"


class ContactRef(WireModel):
    id: RefId
    type: ContactType


class TrackingDataType(StrEnum):
    TRACKING_CATEGORIES = "trackingCategories"
    CUSTOMERS = "customers"


class TrackingRef(WireModel):
    id: RefId
    data_type: TrackingDataType


class InvoiceTo(WireModel):
    id: RefId
    type: Literal["Customer"] = "Customer"


class CompanyConfig(WireModel):
    bank_account_ref: Ref | None = None
    supplier_ref: Ref | None = None
    customer_ref: Ref | None = None


# --------------------------------------------------------------------------- expenses


class ExpenseType(StrEnum):
    """Every expense type the bot can send: Sync2Books takes Payment and DirectCost
    (``SYNC2BOOKS_EXPENSE_TYPES``); Codat's Sync for Expenses takes Payment, Refund, Reward and Chargeback.
    The sandbox refuses the ones Sync2Books does not take, as the real service does."""

    PAYMENT = "Payment"
    DIRECT_COST = "DirectCost"
    REFUND = "Refund"
    REWARD = "Reward"
    CHARGEBACK = "Chargeback"


SYNC2BOOKS_EXPENSE_TYPES = frozenset({ExpenseType.PAYMENT, ExpenseType.DIRECT_COST})


class ExpenseLine(WireModel):
    net_amount: Money
    tax_amount: Money
    tax_rate_ref: Ref
    account_ref: Ref
    tracking_refs: Annotated[list[TrackingRef], Field(max_length=10)] | None = None
    invoice_to: InvoiceTo | None = None


class Expense(WireModel):
    """One expense as the client posts it; ``id`` is the client's idempotency key."""

    id: UUIDStr
    type: ExpenseType
    issue_date: IssueDate
    currency: CurrencyCode
    currency_rate: Rate | None = None
    merchant_name: Annotated[StrictStr, Field(max_length=100)] | None = None
    contact_ref: ContactRef | None = None
    bank_account_ref: Ref | None = None
    lines: Annotated[list[ExpenseLine], Field(min_length=1, max_length=100)]
    notes: Annotated[StrictStr, Field(max_length=2000)] | None = None
    post_as_draft: StrictBool = False

    def problems(self, base_currency: str | None = None) -> list[ErrorDetail]:
        """The rules that span fields (amounts against the currency, tax sign, exchange rate)."""
        from sync2books.wire import to_data

        return expense_rule_problems(to_data(self), base_currency)


MAX_EXPENSES_PER_REQUEST = 50


def expense_rule_problems(raw: Mapping[str, Any], base_currency: str | None, prefix: str = "") -> list[ErrorDetail]:
    """Cross-field rules of one expense, read from its wire form.

    It works on raw data so that a request with a bad field elsewhere still hears about every
    amount with too many decimals: a 422 lists every problem, not just the first.
    """
    problems: list[ErrorDetail] = []
    currency = raw.get("currency")
    known_currency = isinstance(currency, str) and is_known_currency(currency)
    lines = raw.get("lines")
    if known_currency and isinstance(lines, list):
        assert isinstance(currency, str)
        for index, line in enumerate(lines):
            if not isinstance(line, Mapping):
                continue
            amounts: dict[str, Decimal] = {}
            for name in ("netAmount", "taxAmount"):
                value = line.get(name)
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    amounts[name] = Decimal(value)
                    problem = amount_problem(Decimal(value), currency)
                    if problem:
                        problems.append(ErrorDetail(field=f"{prefix}lines[{index}].{name}", message=problem))
            net, tax = amounts.get("netAmount"), amounts.get("taxAmount")
            if net is not None and tax is not None and net.is_finite() and tax.is_finite() and net >= 0 > tax:
                problems.append(
                    ErrorDetail(
                        field=f"{prefix}lines[{index}].taxAmount",
                        message="must not be negative when netAmount is zero or positive",
                    )
                )
    if known_currency and base_currency and currency != base_currency and raw.get("currencyRate") is None:
        problems.append(
            ErrorDetail(
                field=f"{prefix}currencyRate",
                message=f"is required because {currency} differs from the connection's base currency {base_currency}",
            )
        )
    return problems


def field_path(loc: tuple[int | str, ...]) -> str:
    """('lines', 0, 'netAmount') -> 'lines[0].netAmount'; a leading index names the array item."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def plain_message(message: str) -> str:
    """Pydantic's wording, said the way the rest of our messages are: "netAmount must be a number"."""
    for start, replacement in (
        ("Value error, ", ""),
        ("Input should be", "must be"),
        ("String should", "must"),
        ("List should", "must"),
    ):
        if message.startswith(start):
            return replacement + message.removeprefix(start)
    return message


def validation_details(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[ErrorDetail]:
    details = []
    for item in error.errors(include_url=False):
        message = "is required" if item["type"] == "missing" else plain_message(item["msg"])
        details.append(ErrorDetail(field=field_path(prefix + tuple(item["loc"])), message=message))
    return details


class ExpenseStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"


class SyncError(WireModel):
    code: str
    message: str


class AcceptedExpense(WireModel):
    id: str
    status: ExpenseStatus
    sync_batch_id: str


class ExpensesAccepted(WireModel):
    sync_batch_id: str
    status: ExpenseStatus
    expenses: list[AcceptedExpense]


class Attachment(WireModel):
    id: str
    expense_id: str
    file_name: str
    content_type: str
    size: int
    sha256: str


ACCEPTED_ATTACHMENT_TYPES = frozenset(
    {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/tiff",
        "image/webp",
    }
)
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class ExpenseRecord(WireModel):
    """``GET /expenses/{connectionId}/{expenseId}``; ``expense`` is the body as it was stored."""

    id: str
    status: ExpenseStatus
    sync_batch_id: str
    accounting_id: str | None = None
    error: SyncError | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    expense: Expense | None = None


# --------------------------------------------------------------------------- sync batches


class BatchStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    PARTIALLY_FAILED = "PARTIALLY_FAILED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_BATCH_STATUSES


TERMINAL_BATCH_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.PARTIALLY_FAILED, BatchStatus.FAILED})


class BatchCounts(WireModel):
    total: int
    synced: int
    failed: int


class BatchExpense(WireModel):
    id: str
    status: ExpenseStatus
    accounting_id: str | None = None
    error: SyncError | None = None


class SyncBatch(WireModel):
    id: str
    company_id: str
    connection_id: str
    status: BatchStatus
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    counts: BatchCounts
    expenses: list[BatchExpense]


# --------------------------------------------------------------------------- webhooks


class WebhookEventType(StrEnum):
    SYNC_BATCH_COMPLETED = "sync_batch.completed"
    SYNC_BATCH_PARTIALLY_FAILED = "sync_batch.partially_failed"
    SYNC_BATCH_FAILED = "sync_batch.failed"
    CONNECTION_STATUS_CHANGED = "connection.status_changed"


BATCH_EVENT_TYPES: dict[BatchStatus, WebhookEventType] = {
    BatchStatus.COMPLETED: WebhookEventType.SYNC_BATCH_COMPLETED,
    BatchStatus.PARTIALLY_FAILED: WebhookEventType.SYNC_BATCH_PARTIALLY_FAILED,
    BatchStatus.FAILED: WebhookEventType.SYNC_BATCH_FAILED,
}

# The contract's retry schedule after a failed delivery, in seconds; then the delivery is given up.
WEBHOOK_RETRY_SECONDS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
# A delivery answered later than this counts as failed.
WEBHOOK_TIMEOUT_SECONDS = 15.0


def _webhook_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("not_a_url", "must be an http:// or https:// URL")
    url = value.strip()
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest or len(url) > 2000:
        raise PydanticCustomError("not_a_url", "must be an http:// or https:// URL")
    return url


class WebhookSubscriptionCreate(WireModel):
    url: Annotated[str, BeforeValidator(_webhook_url)]
    # None or left out: every event.
    events: Annotated[list[WebhookEventType], Field(min_length=1)] | None = None


class WebhookSubscription(WireModel):
    id: str
    url: str
    events: list[WebhookEventType]
    created_at: datetime
    # Only in the answer to POST /webhooks: the one time the secret is shown.
    secret: str | None = None


class ConnectionChange(Connection):
    """``connection.status_changed`` data: the connection now, and the status it left (None: it is new)."""

    previous_status: ConnectionStatus | None = None


class WebhookEvent(WireModel):
    """One delivery's body; ``data`` is the state at ``timestamp`` (read it with ``batch`` or ``connection``)."""

    type: str  # kept as text: a receiver must be able to tell an unknown type from a broken body
    timestamp: datetime
    data: dict[str, Any]

    @property
    def known_type(self) -> WebhookEventType | None:
        try:
            return WebhookEventType(self.type)
        except ValueError:
            return None

    def batch(self) -> SyncBatch:
        return SyncBatch.model_validate(self.data)

    def connection(self) -> ConnectionChange:
        return ConnectionChange.model_validate(self.data)


# --------------------------------------------------------------------------- sandbox-only


class SandboxSettings(WireModel):
    processing_delay_ms: int = 500
    latency_ms: int = 0
    error_rate: float = 0.0
    rate_limit_per_minute: int | None = None
    webhook_delay_ms: int = 0
    webhook_failure_rate: float = 0.0
    webhook_retry_scale: float = 1.0


class SandboxSettingsUpdate(WireModel):
    """Any subset of the settings; what is left out keeps its value."""

    processing_delay_ms: Annotated[StrictInt, Field(ge=0, le=600_000)] | None = None
    latency_ms: Annotated[StrictInt, Field(ge=0, le=60_000)] | None = None
    # A share, not money: a float is the honest type here.
    error_rate: Annotated[float, Field(ge=0, le=1, strict=False)] | None = None
    rate_limit_per_minute: Annotated[StrictInt, Field(ge=1)] | None = None
    webhook_delay_ms: Annotated[StrictInt, Field(ge=0, le=600_000)] | None = None
    webhook_failure_rate: Annotated[float, Field(ge=0, le=1, strict=False)] | None = None
    # 0.001 turns the five-minute retry into 0.3 s; above 1 stretches the schedule.
    webhook_retry_scale: Annotated[float, Field(gt=0, le=100, strict=False)] | None = None


class SandboxConnectionStatus(WireModel):
    status: Literal[ConnectionStatus.ERROR, ConnectionStatus.DISCONNECTED]
