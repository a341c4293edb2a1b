"""The expense-sync service as the bot's services see it: one interface, one adapter per service.

Sync2Books (``bot.sync2books_backend``) is the first adapter; Codat's Sync for Expenses (``bot.codat_backend``)
is the second. Services and handlers depend on this module only, so none of them knows which one runs. Failures
are the errors below (``ExpenseSyncError`` and its kinds) whichever service answers: each adapter translates its
own client's errors into them.

The port speaks the Sync2Books contract's vocabulary (companies, connections, expenses, sync batches: the value
types re-exported below under this module's name) where the two services agree, and its own small types where
they do not: software keys are each service's own strings, an authorization link may never expire, and receipts
follow rules that depend on the accounting software.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self

from pydantic import BaseModel, ConfigDict

from apiclient.errors import ServiceAPIError, describe
from bot.software import SoftwareCatalog

# The value types the port speaks where both services agree: the Sync2Books contract's pure data models, which
# the Codat adapter builds too. Services and handlers take them from here, never from ``sync2books``.
from sync2books.models import (
    MAX_EXPENSES_PER_REQUEST,
    REFERENCE_MODELS,
    AcceptedExpense,
    Account,
    AccountType,
    Attachment,
    BankAccount,
    BatchCounts,
    BatchExpense,
    BatchStatus,
    Company,
    CompanyConfig,
    ConnectionErrorInfo,
    ConnectionStatus,
    ContactRef,
    ContactType,
    Customer,
    Expense,
    ExpenseLine,
    ExpensesAccepted,
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


class ServiceConnection(BaseModel):
    """A company's authorized link to its accounting software, as either service reports it."""

    model_config = ConfigDict(frozen=True)

    id: str
    company_id: str
    integration_key: str  # the service's own key for the software: "XERO", or Codat's "gbol"
    platform_name: str
    status: ConnectionStatus
    created_at: datetime
    updated_at: datetime
    base_currency: str | None = None
    error: ConnectionErrorInfo | None = None


@dataclass(frozen=True)
class AuthLink:
    url: str
    expires_at: datetime | None  # None: the link works until it is used (Codat's do)
    # The connection the link will become, when the service makes it up front (Codat does).
    connection_id: str | None = None


@dataclass(frozen=True)
class OpenBatch:
    """A sync batch the bot still waits on, with the company it belongs to (Codat asks per company)."""

    batch_id: str
    company_id: str
    connection_id: str


@dataclass(frozen=True)
class ReceiptRules:
    """What the books behind one connection take as a receipt."""

    software_name: str
    max_bytes: int | None  # None: no limit of the software's own
    content_types: frozenset[str]
    kinds: str  # the accepted kinds in words, for refusals
    takes_receipts: bool = True
    # Receipts only on these expense types (None: on every type).
    expense_types: frozenset[str] | None = None

    def problem(self, file_name: str, content_type: str, size: int, expense_type: str | None = None) -> str | None:
        """Why this file cannot be a receipt here, in words for the person who shared it; None when it can."""
        refused = f"I can't attach *{file_name}* as a receipt"
        if not self.takes_receipts:
            return f"{refused}: {self.software_name} does not take receipts through this service."
        if expense_type is not None and self.expense_types is not None and expense_type not in self.expense_types:
            allowed = " and ".join(sorted(self.expense_types))
            return f"{refused}: {self.software_name} takes receipts only on {allowed} expenses."
        if content_type not in self.content_types:
            return f"{refused}: {self.software_name} takes only {self.kinds} files."
        if self.max_bytes is not None and size > self.max_bytes:
            megabytes, limit = size / (1024 * 1024), self.max_bytes / (1024 * 1024)
            return (
                f"{refused}: it is {megabytes:.1f} MB and {self.software_name} takes receipts of at most {limit:g} MB."
            )
        return None


class ExpenseSyncBackend(Protocol):
    """Companies, authorization links, connections, reference data, defaults, expenses, receipts, batches."""

    name: str
    # The setting that holds this service's API key, named when the service refuses it.
    key_variable: str
    # The expense types this service accepts, in the order the modal offers them.
    expense_types: tuple[str, ...]
    # The kinds of contact an expense may name ("Supplier", "Customer").
    contact_types: tuple[str, ...]
    software: SoftwareCatalog
    # True: receipts are uploaded only once the expense is in the books (Codat attaches to the booked one).
    receipts_after_sync: bool

    def company_name_problem(self, name: str) -> str | None:
        """Why this service would refuse the name, in plain words; None when it takes it."""
        ...

    async def create_company(self, name: str, description: str | None) -> Company: ...

    async def get_company(self, company_id: str) -> Company: ...

    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        """One authorization link per software asked for, in that order."""
        ...

    async def connections(self, company_id: str) -> list[ServiceConnection]:
        """The company's accounting connections that have been authorized at least once."""
        ...

    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection: ...

    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        """The whole list (every page) of one kind of reference data."""
        ...

    async def company_config(self, company_id: str) -> CompanyConfig: ...

    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        """Queue 1–50 expenses as one batch; idempotent by expense id."""
        ...

    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch: ...

    def changed_batches(self, since: datetime | None, open_batches: Sequence[OpenBatch]) -> AsyncIterator[SyncBatch]:
        """Batches that changed after ``since``, oldest change first, in a few requests.

        ``open_batches`` are those the bot still waits on: a service that cannot list changes across
        companies looks at those.
        """
        ...

    def receipt_rules(self, software: str) -> ReceiptRules: ...

    async def upload_attachment(
        self,
        company_id: str,
        connection_id: str,
        sync_batch_id: str,
        expense_id: str,
        file_name: str,
        content: bytes,
        content_type: str,
    ) -> Attachment: ...

    async def ping(self) -> str:
        """A cheap authenticated call; answers a line saying what answered."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class WebhookNews:
    """What a verified webhook tells: a batch that changed, or (no batch) that a company's connections did."""

    company_id: str
    batch: SyncBatch | None = None


class WebhookSource(Protocol):
    """A service that sends webhooks to a URL it is subscribed to, signed with a secret it hands out once."""

    async def subscribe_webhooks(self, url: str) -> tuple[str, str]:
        """Subscribe ``url`` to every event; answers (subscription id, signing secret)."""
        ...

    async def unsubscribe_webhooks(self, subscription_id: str) -> None: ...

    def read_webhook(self, body: Any) -> WebhookNews | None:
        """What a verified delivery says; None for an event the bot does not act on. Raises ``ValueError``
        (pydantic's ``ValidationError`` among them) for a body that is not one of the service's events."""
        ...


# ---------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing the service names as wrong: a field (``[3].lines[0].netAmount``, or an item ``[3]``) and why."""

    field: str
    message: str


class ExpenseSyncError(Exception):
    """Anything that stopped a call to the expense-sync service, whichever service runs.

    ``status`` is the answer's HTTP status (None: no answer came), ``code`` the service's error code, ``message``
    its words, ``details`` the fields it names; ``str()`` is all of it in one line, and never holds the API key.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        details: Sequence[Problem] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.details = list(details)
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    @classmethod
    def answered(cls, exc: ServiceAPIError[Any]) -> Self:
        """This kind of error for a client's error answer: the same words, status, code and details."""
        return cls(
            exc.message,
            status=exc.status,
            code=exc.code,
            details=[Problem(d.field, d.message) for d in exc.details],
            request_id=exc.request_id,
            retry_after=exc.retry_after,
        )

    def _describe(self) -> str:
        if self.status is None:
            return self.message
        return describe(self.status, self.code, self.message, self.details, self.request_id)


class BackendUnavailable(ExpenseSyncError):
    """The service could not be reached, did not answer in time, or answered with a fault of its own (5xx)."""


class KeyRefused(ExpenseSyncError):
    """The service refused the bot's API key (401, or 403 for a key not allowed there)."""


class NotFound(ExpenseSyncError):
    """No such company, connection, expense or batch (or it belongs to another API key)."""


class Conflict(ExpenseSyncError):
    """The service holds something that conflicts: an expense id reused with a different body."""


class ConnectionNotConnected(Conflict):
    """The connection is disconnected or in error, so the books cannot take this."""


class Rejected(ExpenseSyncError):
    """The service refused what was sent; ``details`` name the fields, and in a batch the expenses (``[3]``)."""


class FileRefused(ExpenseSyncError):
    """An attachment the service will not take: too large, or of a type it does not accept."""


class RateLimited(ExpenseSyncError):
    """Too many requests; ``retry_after`` says how long to wait."""


__all__ = [
    "MAX_EXPENSES_PER_REQUEST",
    "REFERENCE_MODELS",
    "AcceptedExpense",
    "Account",
    "AccountType",
    "Attachment",
    "AuthLink",
    "BackendUnavailable",
    "BankAccount",
    "BatchCounts",
    "BatchExpense",
    "BatchStatus",
    "Company",
    "CompanyConfig",
    "Conflict",
    "ConnectionErrorInfo",
    "ConnectionNotConnected",
    "ConnectionStatus",
    "ContactRef",
    "ContactType",
    "Customer",
    "Expense",
    "ExpenseLine",
    "ExpenseStatus",
    "ExpenseSyncBackend",
    "ExpenseSyncError",
    "ExpenseType",
    "ExpensesAccepted",
    "FileRefused",
    "InvoiceTo",
    "KeyRefused",
    "NotFound",
    "OpenBatch",
    "Problem",
    "RateLimited",
    "ReceiptRules",
    "Ref",
    "ReferenceKind",
    "Rejected",
    "ServiceConnection",
    "Supplier",
    "SyncBatch",
    "SyncError",
    "TaxRate",
    "TrackingCategory",
    "TrackingDataType",
    "TrackingRef",
    "WebhookNews",
    "WebhookSource",
    "WireModel",
]
