"""The shapes of Codat's Sync for Expenses API that the bot uses, as its published OpenAPI spec defines them.

snake_case in Python, camelCase on the wire. Answers ignore fields they do not know (Codat adds fields
without notice) and leave out-of-spec nullables as ``None``; requests refuse unknown fields and are
sent by alias with ``None`` left out, because the spec's 3.1 schemas refuse ``null`` in many places.
Money is ``Decimal`` and never a float, on the way out (``Money`` refuses a float) and on the way in
(``apiclient.wire.loads`` parses every fraction as ``Decimal``).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from apiclient import wire
from money import Money

T = TypeVar("T")

MAX_EXPENSES_PER_REQUEST = 50
MAX_LINES_PER_EXPENSE = 100


class CodatModel(BaseModel):
    """An answer from Codat: camelCase on the wire, unknown fields ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class CodatRequest(BaseModel):
    """A body we send to Codat: camelCase on the wire, a misspelt field is our bug and refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# ---------------------------------------------------------------------------------------------- paging


class CodatPage(CodatModel, Generic[T]):
    """One page of a Codat list (``PagingInfo``); pages are numbered from 1."""

    results: list[T] = Field(default_factory=list)
    page_number: int
    page_size: int
    total_results: int


# ---------------------------------------------------------------------------------------------- companies


class ConnectionState(StrEnum):
    PENDING_AUTH = "PendingAuth"
    LINKED = "Linked"
    UNLINKED = "Unlinked"
    DEAUTHORIZED = "Deauthorized"


class DataConnectionError(CodatModel):
    status_code: str | None = None
    status_text: str | None = None
    error_message: str | None = None
    # The spec spells it "erroredOnUtc".
    erred_on_utc: datetime | None = Field(default=None, alias="erroredOnUtc")
    status: str | None = None  # Active or Resolved


class CodatConnection(CodatModel):
    id: str
    integration_id: str
    integration_key: str | None = None
    source_id: str
    source_type: str  # Accounting, Banking, BankFeed, Commerce, Expense, Other, Unknown
    platform_name: str
    link_url: str
    status: ConnectionState
    created: datetime
    last_sync: datetime | None = None
    data_connection_errors: list[DataConnectionError] | None = None


class CodatCompany(CodatModel):
    id: str
    name: str
    description: str | None = None
    redirect: str
    created: datetime | None = None
    last_sync: datetime | None = None
    data_connections: list[CodatConnection] = Field(default_factory=list)


# The characters the spec's CompanyRequestBody.name pattern allows: ^[A-Za-z0-9\s\-',&@.,?!\s]+$
_COMPANY_NAME_REFUSED = re.compile(r"[^A-Za-z0-9\s\-',&@.?!]")


def codat_company_name(name: str) -> str:
    """The name as Codat will store it: it removes the characters its pattern refuses, so we do it first.

    Codat documents that ``Company (Codat[1])`` is created as ``Company Codat1``; sending the name already
    cleaned keeps the request inside the published schema.
    """
    cleaned = " ".join(_COMPANY_NAME_REFUSED.sub("", name).split())
    if not cleaned:
        raise ValueError("A Codat company name needs at least one letter or digit (A-Z, a-z, 0-9)")
    return cleaned


class CompanyInformation(CodatModel):
    company_name: str | None = None
    company_legal_name: str | None = None
    base_currency: str | None = None


# ---------------------------------------------------------------------------------------------- configuration


class IdRef(CodatModel):
    id: str | None = None


class CompanyConfiguration(CodatModel):
    bank_account: IdRef | None = None
    supplier: IdRef | None = None
    customer: IdRef | None = None


class AccountMappingInfo(CodatModel):
    id: str
    nominal_code: str | None = None
    name: str | None = None
    currency: str | None = None
    account_type: str | None = None  # Asset, Liability, Income, Expense, Equity
    fully_qualified_category: str | None = None
    is_bank_account: bool = False
    valid_transaction_types: list[str] | None = None
    valid_for: list[str] | None = None


class TaxRateMappingInfo(CodatModel):
    id: str
    name: str | None = None
    code: str | None = None
    effective_tax_rate: Decimal | None = None
    total_tax_rate: Decimal | None = None
    valid_transaction_types: list[str] | None = None


class TrackingCategoryMappingInfo(CodatModel):
    id: str
    name: str | None = None
    has_children: bool | None = None
    parent_id: str | None = None


class MappingOptions(CodatModel):
    expense_provider: str | None = None
    accounts: list[AccountMappingInfo] | None = None
    tracking_categories: list[TrackingCategoryMappingInfo] | None = None
    tax_rates: list[TaxRateMappingInfo] | None = None


class CodatSupplier(CodatModel):
    id: str
    supplier_name: str | None = None
    status: str | None = None  # Unknown, Active, Archived
    default_currency: str | None = None


class CodatCustomer(CodatModel):
    id: str
    customer_name: str | None = None
    status: str | None = None  # Unknown, Active, Archived
    default_currency: str | None = None


# ---------------------------------------------------------------------------------------------- expenses


def codat_issue_date(day: date) -> str:
    """``issueDate`` as the spec's examples write it: a date-time at midnight UTC, ``2024-05-21T00:00:00Z``."""
    if isinstance(day, datetime):
        day = day.date()
    return f"{day.isoformat()}T00:00:00Z"


def _issue_date(value: Any) -> Any:
    if isinstance(value, datetime):
        return wire.utc_z(value)
    if isinstance(value, date):
        return codat_issue_date(value)
    return value


IssueDate = Annotated[str, BeforeValidator(_issue_date)]


class RecordRef(CodatRequest):
    id: str


class ExpenseContactRef(CodatRequest):
    id: str
    type: Literal["Supplier"] = "Supplier"


class CodatTrackingRef(CodatRequest):
    id: str
    data_type: Literal["trackingCategories", "customers"] = "trackingCategories"


class InvoiceTo(CodatRequest):
    id: str
    type: Literal["customer"] = "customer"


class ExpenseTransactionLine(CodatRequest):
    net_amount: Money
    tax_amount: Money | None = None
    tax_rate_ref: RecordRef | None = None
    account_ref: RecordRef | None = None
    tracking_refs: list[CodatTrackingRef] | None = Field(default=None, min_length=1, max_length=10)
    invoice_to: InvoiceTo | None = None


class ExpenseTransaction(CodatRequest):
    """One card transaction; ``id`` (a UUID) is Codat's duplicate-protection key, unique per company."""

    id: str
    type: Literal["Payment", "Refund", "Reward", "Chargeback"]
    issue_date: IssueDate  # a date is written as "YYYY-MM-DDT00:00:00Z"
    currency: str
    currency_rate: Money | None = None
    contact_ref: ExpenseContactRef | None = None
    bank_account_ref: RecordRef | None = None
    reference: str | None = None
    merchant_name: str | None = None
    lines: list[ExpenseTransactionLine] = Field(min_length=1, max_length=MAX_LINES_PER_EXPENSE)
    notes: str | None = None
    post_as_draft: bool | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _a_uuid(cls, value: Any) -> Any:
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, str):
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValueError("must be a UUID") from None
        return value


class CreateExpenseResponse(CodatModel):
    sync_id: str


# ---------------------------------------------------------------------------------------------- syncs


class CompanySyncStatus(CodatModel):
    """``syncStatusCode``: 1000s in progress, 2000/2040 success, 4xxx configuration or auth, 5xxx failures."""

    company_id: str | None = None
    sync_id: str | None = None
    sync_status_code: int
    sync_status: str | None = None
    error_message: str | None = None
    sync_exception_message: str | None = None
    sync_utc: datetime | None = None
    data_pushed: bool = False


class SyncTransaction(CodatModel):
    transaction_id: str | None = None
    status: str | None = None  # Unknown, Pending, ValidationError, Completed, PushError
    message: str | None = None
    integration_type: str | None = None


class CodatAttachment(CodatModel):
    company_id: str | None = None
    id: str | None = None
    transaction_id: str | None = None


# ---------------------------------------------------------------------------------------------- errors


class ErrorValidationItem(CodatModel):
    item_id: str | None = None
    message: str | None = None
    validator_name: str | None = None


class ErrorValidation(CodatModel):
    errors: list[ErrorValidationItem] | None = None
    warnings: list[ErrorValidationItem] | None = None


class CodatErrorMessage(CodatModel):
    status_code: int | None = None
    service: str | None = None
    error: str | None = None
    correlation_id: str | None = None
    can_be_retried: str | None = None
    detailed_error_code: int | None = None
    validation: ErrorValidation | None = None


__all__ = [
    "MAX_EXPENSES_PER_REQUEST",
    "MAX_LINES_PER_EXPENSE",
    "AccountMappingInfo",
    "CodatAttachment",
    "CodatCompany",
    "CodatConnection",
    "CodatCustomer",
    "CodatErrorMessage",
    "CodatModel",
    "CodatPage",
    "CodatRequest",
    "CodatSupplier",
    "CodatTrackingRef",
    "CompanyConfiguration",
    "CompanyInformation",
    "CompanySyncStatus",
    "ConnectionState",
    "CreateExpenseResponse",
    "DataConnectionError",
    "ErrorValidation",
    "ErrorValidationItem",
    "ExpenseContactRef",
    "ExpenseTransaction",
    "ExpenseTransactionLine",
    "IdRef",
    "InvoiceTo",
    "MappingOptions",
    "RecordRef",
    "SyncTransaction",
    "TaxRateMappingInfo",
    "TrackingCategoryMappingInfo",
    "codat_company_name",
    "codat_issue_date",
]
