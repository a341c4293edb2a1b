"""The second adapter of the expense-sync port: Codat's Sync for Expenses, through ``codat.client``.

Where Codat's model differs from the port's, the difference is settled here and nowhere else:
- an authorization link is a ``PendingAuth`` connection made for one platform; it never expires, and it
  names the connection it will become, so the watcher knows exactly which connection used it;
- ``PendingAuth`` connections are links, not connections: they are not reported;
- once an accounting connection is ``Linked`` Codat needs its partner expense connection beside it: the
  look that first sees the link makes it (and any later look that finds it missing);
- expenses go to the company, not to a connection, and Codat answers a ``syncId``: our batch id;
- a batch's outcome is the sync's status plus each transaction's status;
- Codat knows no ``DirectCost`` and takes only a supplier as an expense's contact;
- receipts follow each platform's limits and are uploaded once the transaction is in the books;
- Codat's errors (``codat.errors``) reach the services as the port's errors (``bot.backend``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from bot.backend import (
    AcceptedExpense,
    Account,
    AccountType,
    Attachment,
    AuthLink,
    BackendUnavailable,
    BankAccount,
    BatchCounts,
    BatchExpense,
    BatchStatus,
    Company,
    CompanyConfig,
    Conflict,
    ConnectionErrorInfo,
    ConnectionStatus,
    ContactType,
    Customer,
    Expense,
    ExpensesAccepted,
    ExpenseStatus,
    ExpenseSyncError,
    FileRefused,
    KeyRefused,
    NotFound,
    OpenBatch,
    Problem,
    RateLimited,
    ReceiptRules,
    Ref,
    ReferenceKind,
    Rejected,
    ServiceConnection,
    Supplier,
    SyncBatch,
    SyncError,
    TaxRate,
    TrackingCategory,
    WireModel,
)
from bot.software import Software, SoftwareCatalog
from codat.client import CodatClient
from codat.errors import (
    CodatAPIError,
    CodatError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)
from codat.models import (
    CodatCompany,
    CodatConnection,
    CodatTrackingRef,
    CompanySyncStatus,
    ConnectionState,
    ExpenseContactRef,
    ExpenseTransaction,
    ExpenseTransactionLine,
    InvoiceTo,
    MappingOptions,
    RecordRef,
    SyncTransaction,
)

log = logging.getLogger(__name__)

CODAT_SOFTWARE = SoftwareCatalog(
    [
        Software("qhyg", "QuickBooks Online", ("quickbooks", "qbo")),
        Software("pqsw", "QuickBooks Desktop", ("quickbooks-desktop", "qbd")),
        Software("gbol", "Xero", ("xero",)),
        Software("knfz", "Sage Intacct", ("sage-intacct", "sage", "intacct")),
        Software("trji", "Dynamics 365 Business Central", ("dynamics", "business-central")),
        Software("fbrh", "FreeAgent", ("freeagent",)),
        Software("akxx", "Oracle NetSuite", ("netsuite",)),
        Software("pdvj", "MYOB Business", ("myob",)),
    ]
)

CODAT_EXPENSE_TYPES = ("Payment", "Refund", "Reward", "Chargeback")
ACCOUNTING = "Accounting"
PARTNER_EXPENSE = "Expense"
# Mapping options hold four of the six reference lists: one answer serves the four refreshes.
MAPPING_OPTIONS_FRESH_FOR = 60.0
COMPANIES_AT_ONCE = 8

_MB = 1024 * 1024
_PDF, _JPEG, _PNG, _GIF = "application/pdf", "image/jpeg", "image/png", "image/gif"
_TIFF, _BMP, _HEIC, _WEBP = "image/tiff", "image/bmp", "image/heic", "image/webp"
_COMMON = frozenset({_PDF, _JPEG, _PNG, _GIF, _TIFF, _HEIC, _WEBP, _BMP})

# From the upload endpoint's table in Codat's spec (the receipt-like kinds of each list). Sage Intacct and
# MYOB are not in that table: they get the limits we hold Sync2Books receipts to (10 MB, common kinds).
_RECEIPTS: dict[str, tuple[int | None, frozenset[str], str, frozenset[str] | None]] = {
    "gbol": (3 * _MB, frozenset({_PDF, _JPEG, _PNG, _GIF, _TIFF, _BMP}), "PDF, JPEG, PNG, GIF, TIFF or BMP", None),
    "qhyg": (
        100 * _MB,
        frozenset({_PDF, _JPEG, _PNG, _GIF, _TIFF}),
        "PDF, JPEG, PNG, GIF or TIFF",
        frozenset({"Payment", "Refund"}),
    ),
    "akxx": (
        100 * _MB,
        frozenset({_PDF, _JPEG, _PNG, _TIFF, _BMP}),
        "PDF, JPEG, PNG, TIFF or BMP",
        frozenset({"Payment", "Refund"}),
    ),
    "trji": (350 * _MB, _COMMON, "PDF or image", None),
    "fbrh": (5 * _MB, frozenset({_PDF, _JPEG, _PNG, _GIF}), "PDF, JPEG, PNG or GIF", frozenset({"Payment"})),
}
_DEFAULT_RECEIPTS = (10 * _MB, _COMMON - {_BMP}, "PDF, JPEG, PNG, GIF, HEIC, TIFF or WebP", None)

# The characters the spec's pattern for a company name allows.
_NAME_REFUSED = re.compile(r"[^A-Za-z0-9\s\-',&@.?!]")

# Codat's transaction statuses, as the port's expense statuses.
_TRANSACTION_STATUS = {
    "Completed": ExpenseStatus.SYNCED,
    "ValidationError": ExpenseStatus.FAILED,
    "PushError": ExpenseStatus.FAILED,
}


def sync_finished(status: CompanySyncStatus) -> bool:
    """2000 and 2040 are success, 4xxx and 5xxx failure; the spec names no other end, so any other is running."""
    code = status.sync_status_code
    return code in (2000, 2040) or 4000 <= code < 6000


def sync_failed(status: CompanySyncStatus) -> bool:
    return 4000 <= status.sync_status_code < 6000


def _sync_error(status: CompanySyncStatus) -> SyncError:
    told = status.error_message or status.sync_exception_message or status.sync_status or "the sync failed"
    # 4xxx: the company's setup (authorization, configuration); 5xxx: Codat or the platform failed.
    code = "sync_setup_error" if status.sync_status_code < 5000 else "sync_failed"
    return SyncError(code=code, message=told)


def batch_from_sync(
    company_id: str, connection_id: str, status: CompanySyncStatus, transactions: Sequence[SyncTransaction]
) -> SyncBatch:
    """The port's batch from a Codat sync: the sync says whether it ended, each transaction how."""
    finished, failed = sync_finished(status), sync_failed(status)
    items = []
    for transaction in transactions:
        if not transaction.transaction_id:
            continue
        state = _TRANSACTION_STATUS.get(transaction.status or "")
        error = None
        if state is None:  # Pending or Unknown
            if failed:
                state, error = ExpenseStatus.FAILED, _sync_error(status)
            else:
                state = ExpenseStatus.PROCESSING
        elif state == ExpenseStatus.FAILED:
            if transaction.status == "ValidationError":
                code = "validation_error"
            elif failed:
                code = _sync_error(status).code  # the whole sync failed: its 4xxx/5xxx says why
            else:
                code = "platform_error"
            message = transaction.message or (_sync_error(status).message if failed else "the platform refused it")
            error = SyncError(code=code, message=message)
        items.append(BatchExpense(id=transaction.transaction_id, status=state, error=error))
    synced = sum(1 for item in items if item.status == ExpenseStatus.SYNCED)
    refused = sum(1 for item in items if item.status == ExpenseStatus.FAILED)
    if not finished or synced + refused < len(items):
        batch_status = BatchStatus.PROCESSING
    elif refused == 0 and not failed:
        batch_status = BatchStatus.COMPLETED
    elif synced == 0:
        batch_status = BatchStatus.FAILED
    else:
        batch_status = BatchStatus.PARTIALLY_FAILED
    moment = status.sync_utc or datetime.now(UTC)
    return SyncBatch(
        id=status.sync_id or "",
        company_id=company_id,
        connection_id=connection_id,
        status=batch_status,
        created_at=moment,
        updated_at=moment,
        started_at=moment,
        completed_at=moment if batch_status.is_terminal else None,
        counts=BatchCounts(total=len(items), synced=synced, failed=refused),
        expenses=items,
    )


def _connection_status(connection: CodatConnection) -> tuple[ConnectionStatus, ConnectionErrorInfo | None]:
    if connection.status == ConnectionState.LINKED:
        return ConnectionStatus.CONNECTED, None
    if connection.status == ConnectionState.DEAUTHORIZED:
        told = next(
            (e.error_message for e in reversed(connection.data_connection_errors or []) if e.error_message), None
        )
        message = told or f"{connection.platform_name} no longer authorizes Codat to write to the books"
        return ConnectionStatus.ERROR, ConnectionErrorInfo(code="deauthorized", message=message)
    return ConnectionStatus.DISCONNECTED, None


def _last_change(connection: CodatConnection) -> datetime:
    """Codat keeps no "updated" time on a connection: the latest moment it does keep stands in for it."""
    moments = [connection.created]
    if connection.last_sync:
        moments.append(connection.last_sync)
    for error in connection.data_connection_errors or []:
        if error.erred_on_utc:
            moments.append(error.erred_on_utc)
    return max(moments)


# Codat's errors by what they mean to the port, most specific first (RequestTimeoutError is a ServerError).
_KINDS: tuple[tuple[type[CodatAPIError], type[ExpenseSyncError]], ...] = (
    (UnauthorizedError, KeyRefused),
    (ForbiddenError, KeyRefused),
    (NotFoundError, NotFound),
    (ConflictError, Conflict),
    (ValidationFailedError, Rejected),
    (PayloadTooLargeError, FileRefused),
    (UnsupportedMediaTypeError, FileRefused),
    (RateLimitedError, RateLimited),
    (ServerError, BackendUnavailable),
)


def port_error(exc: CodatError) -> ExpenseSyncError:
    """The port's error for a Codat client error: the same words, status, code and details."""
    if not isinstance(exc, CodatAPIError):
        return BackendUnavailable(str(exc))
    kind = next((port for client, port in _KINDS if isinstance(exc, client)), ExpenseSyncError)
    return kind.answered(exc)


P = ParamSpec("P")
T = TypeVar("T")


def _in_port_terms(call: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """A public call of the adapter, raising the port's errors where the client raises Codat's."""

    @functools.wraps(call)
    async def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await call(*args, **kwargs)
        except CodatError as exc:
            raise port_error(exc) from exc

    return translated


class CodatBackend:
    name = "Codat"
    key_variable = "CODAT_API_KEY"
    expense_types: tuple[str, ...] = CODAT_EXPENSE_TYPES
    contact_types: tuple[str, ...] = ("Supplier",)
    software = CODAT_SOFTWARE
    receipts_after_sync = True

    def __init__(self, client: CodatClient) -> None:
        self.client = client
        self._base_currency: dict[str, str] = {}
        self._mapping: dict[str, tuple[float, MappingOptions]] = {}
        self._mapping_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ------------------------------------------------------------------ companies

    def company_name_problem(self, name: str) -> str | None:
        refused = sorted(set(_NAME_REFUSED.findall(name)))
        if not refused:
            return None
        shown = " ".join(f"“{char}”" for char in refused)
        return (
            f"Codat takes company names made of letters A–Z, digits, spaces and - ' , & @ . ? ! only. "
            f"Type the name again without {shown}."
        )

    @staticmethod
    def _company(company: CodatCompany) -> Company:
        return Company(
            id=company.id,
            name=company.name,
            description=company.description or None,
            created_at=company.created or datetime.now(UTC),
            auth_url=company.redirect,
        )

    @_in_port_terms
    async def create_company(self, name: str, description: str | None) -> Company:
        return self._company(await self.client.create_company(name, description))

    @_in_port_terms
    async def get_company(self, company_id: str) -> Company:
        return self._company(await self.client.get_company(company_id))

    # ------------------------------------------------------------------ links and connections

    @_in_port_terms
    async def auth_links(self, company_id: str, software: Sequence[str]) -> list[AuthLink]:
        """The link of a ``PendingAuth`` connection per platform; one still waiting is used again."""
        waiting = {
            c.integration_key: c
            for c in await self.client.list_connections(company_id)
            if c.status == ConnectionState.PENDING_AUTH
        }
        made = await asyncio.gather(
            *(self.client.create_connection(company_id, key) for key in software if key not in waiting)
        )
        waiting.update((c.integration_key, c) for c in made)
        return [AuthLink(waiting[key].link_url, None, waiting[key].id) for key in software]

    @_in_port_terms
    async def connections(self, company_id: str) -> list[ServiceConnection]:
        found = await self.client.list_connections(company_id)
        accounting = [c for c in found if c.source_type == ACCOUNTING and c.status != ConnectionState.PENDING_AUTH]
        linked = [c for c in accounting if c.status == ConnectionState.LINKED]
        if linked and not any(c.source_type == PARTNER_EXPENSE for c in found):
            # Expenses can be posted only beside a partner expense connection; made where the link is first seen.
            await self.client.create_partner_expense_connection(company_id)
            log.info("made the partner expense connection of company %s", company_id)
        base_currency = await self._base_currency_of(company_id) if linked else self._base_currency.get(company_id)
        return [self._connection(company_id, c, base_currency) for c in accounting]

    async def _base_currency_of(self, company_id: str) -> str | None:
        if company_id not in self._base_currency:
            info = await self.client.get_company_info(company_id)
            if info.base_currency:
                self._base_currency[company_id] = info.base_currency.upper()
        return self._base_currency.get(company_id)

    def _connection(self, company_id: str, connection: CodatConnection, base_currency: str | None) -> ServiceConnection:
        status, error = _connection_status(connection)
        return ServiceConnection(
            id=connection.id,
            company_id=company_id,
            integration_key=connection.integration_key or "",
            platform_name=self.software.display_name(connection.integration_key or "")
            if connection.integration_key and self.software.get(connection.integration_key)
            else connection.platform_name,
            status=status,
            created_at=connection.created,
            updated_at=_last_change(connection),
            base_currency=base_currency,
            error=error,
        )

    @_in_port_terms
    async def disconnect(self, company_id: str, connection_id: str) -> ServiceConnection:
        connection = await self.client.unlink_connection(company_id, connection_id)
        return self._connection(company_id, connection, self._base_currency.get(company_id))

    # ------------------------------------------------------------------ reference data and defaults

    async def _mapping_options(self, company_id: str) -> MappingOptions:
        async with self._mapping_locks[company_id]:
            cached = self._mapping.get(company_id)
            if cached is not None and time.monotonic() - cached[0] < MAPPING_OPTIONS_FRESH_FOR:
                return cached[1]
            options = await self.client.get_mapping_options(company_id)
            self._mapping[company_id] = (time.monotonic(), options)
            return options

    @_in_port_terms
    async def reference(self, company_id: str, connection_id: str, kind: ReferenceKind) -> list[WireModel]:
        if kind == ReferenceKind.SUPPLIERS:
            suppliers = await self.client.list_suppliers(company_id)
            return [Supplier(id=s.id, name=s.supplier_name or s.id) for s in suppliers if s.status != "Archived"]
        if kind == ReferenceKind.CUSTOMERS:
            customers = await self.client.list_customers(company_id)
            return [Customer(id=c.id, name=c.customer_name or c.id) for c in customers if c.status != "Archived"]
        options = await self._mapping_options(company_id)
        if kind == ReferenceKind.TAX_RATES:
            return [
                TaxRate(
                    id=t.id,
                    name=t.name or t.id,
                    code=t.code or t.name or t.id,
                    effective_rate=t.effective_tax_rate if t.effective_tax_rate is not None else 0,
                )
                for t in options.tax_rates or []
            ]
        if kind == ReferenceKind.TRACKING_CATEGORIES:
            return [
                TrackingCategory(id=t.id, name=t.name or t.id, parent_id=t.parent_id)
                for t in options.tracking_categories or []
            ]
        accounts = options.accounts or []
        if kind == ReferenceKind.BANK_ACCOUNTS:
            return [
                BankAccount(id=a.id, name=a.name or a.id, currency=(a.currency or "").upper())
                for a in accounts
                if a.is_bank_account
            ]
        known_types = {t.value for t in AccountType}
        return [
            Account(
                id=a.id,
                name=a.name or a.id,
                nominal_code=a.nominal_code,
                type=AccountType(a.account_type) if a.account_type in known_types else AccountType.EXPENSE,
                currency=(a.currency or "").upper(),
            )
            for a in accounts
            if not a.is_bank_account
        ]

    @_in_port_terms
    async def company_config(self, company_id: str) -> CompanyConfig:
        try:
            config = await self.client.get_config(company_id)
        except NotFoundError:
            return CompanyConfig()  # none set yet: no defaults

        def ref(value: object) -> Ref | None:
            ref_id = getattr(value, "id", None)
            return Ref(id=ref_id) if ref_id else None

        return CompanyConfig(
            bank_account_ref=ref(config.bank_account),
            supplier_ref=ref(config.supplier),
            customer_ref=ref(config.customer),
        )

    # ------------------------------------------------------------------ expenses and batches

    @staticmethod
    def _problems(index: int, expense: Expense) -> list[Problem]:
        problems = []
        if expense.type.value not in CODAT_EXPENSE_TYPES:
            problems.append(
                Problem(
                    field=f"[{index}]",
                    message=f"Codat takes Payment, Refund, Reward or Chargeback expenses, not {expense.type.value}",
                )
            )
        if expense.contact_ref is not None and expense.contact_ref.type != ContactType.SUPPLIER:
            problems.append(Problem(field=f"[{index}]", message="Codat takes only a supplier as the contact"))
        return problems

    @staticmethod
    def _transaction(expense: Expense) -> ExpenseTransaction:
        return ExpenseTransaction(
            id=expense.id,
            type=expense.type.value,  # checked against CODAT_EXPENSE_TYPES first
            issue_date=expense.issue_date,
            currency=expense.currency,
            currency_rate=expense.currency_rate,
            contact_ref=ExpenseContactRef(id=expense.contact_ref.id) if expense.contact_ref else None,
            bank_account_ref=RecordRef(id=expense.bank_account_ref.id) if expense.bank_account_ref else None,
            merchant_name=expense.merchant_name,
            lines=[
                ExpenseTransactionLine(
                    net_amount=line.net_amount,
                    tax_amount=line.tax_amount,
                    tax_rate_ref=RecordRef(id=line.tax_rate_ref.id),
                    account_ref=RecordRef(id=line.account_ref.id),
                    tracking_refs=[CodatTrackingRef(id=t.id, data_type=t.data_type.value) for t in line.tracking_refs]
                    if line.tracking_refs
                    else None,
                    invoice_to=InvoiceTo(id=line.invoice_to.id) if line.invoice_to else None,
                )
                for line in expense.lines
            ],
            notes=expense.notes,
            post_as_draft=expense.post_as_draft or None,
        )

    @_in_port_terms
    async def create_expenses(
        self, company_id: str, connection_id: str, expenses: Sequence[Expense]
    ) -> ExpensesAccepted:
        problems = [problem for index, e in enumerate(expenses) for problem in self._problems(index, e)]
        if problems:
            raise Rejected("Codat would not take these expenses", status=422, code="validation_error", details=problems)
        try:
            answer = await self.client.create_expense_transactions(company_id, [self._transaction(e) for e in expenses])
            sync_id = answer.sync_id
        except ValidationFailedError as exc:
            ids = [e.id for e in expenses]
            named = {d.field for d in exc.details}
            if named and named <= set(ids):
                # Codat refuses ids it already has: after a lost answer the retry lands here, so find the sync
                # that took them. Anything else it names is told to the outbox by position.
                found = await self._sync_holding(company_id, ids)
                if found is not None:
                    sync_id = found
                else:
                    raise _by_position(exc, ids) from None
            else:
                raise _by_position(exc, ids) from None
        return ExpensesAccepted(
            sync_batch_id=sync_id,
            status=ExpenseStatus.QUEUED,
            expenses=[AcceptedExpense(id=e.id, status=ExpenseStatus.QUEUED, sync_batch_id=sync_id) for e in expenses],
        )

    async def _sync_holding(self, company_id: str, ids: Sequence[str]) -> str | None:
        """The latest sync holding every one of these transactions and not refusing them, if there is one."""
        statuses = await self.client.list_sync_statuses(company_id)
        newest_first = sorted(statuses, key=lambda s: s.sync_utc or datetime.min.replace(tzinfo=UTC), reverse=True)
        wanted = set(ids)
        for status in newest_first[:20]:
            if not status.sync_id:
                continue
            transactions = await self.client.list_sync_transactions(company_id, status.sync_id)
            held = {t.transaction_id for t in transactions if t.status not in ("ValidationError", "PushError")}
            if wanted <= held:
                return status.sync_id
        return None

    @_in_port_terms
    async def sync_batch(self, company_id: str, sync_batch_id: str) -> SyncBatch:
        status = await self.client.get_sync_status(company_id, sync_batch_id)
        transactions = await self.client.list_sync_transactions(company_id, sync_batch_id)
        return batch_from_sync(company_id, "", status, transactions)

    async def changed_batches(
        self, since: datetime | None, open_batches: Sequence[OpenBatch]
    ) -> AsyncIterator[SyncBatch]:
        """One status listing per company with open batches; transactions only for the syncs that ended."""
        by_company: dict[str, dict[str, str]] = defaultdict(dict)
        for waiting in open_batches:
            by_company[waiting.company_id][waiting.batch_id] = waiting.connection_id
        gate = asyncio.Semaphore(COMPANIES_AT_ONCE)

        async def look(company_id: str, open_here: dict[str, str]) -> list[SyncBatch]:
            async with gate:
                try:
                    statuses = await self.client.list_sync_statuses(company_id)
                    ended = [s for s in statuses if s.sync_id in open_here and sync_finished(s)]
                    found = []
                    for status in ended:
                        assert status.sync_id is not None
                        transactions = await self.client.list_sync_transactions(company_id, status.sync_id)
                        found.append(batch_from_sync(company_id, open_here[status.sync_id], status, transactions))
                    return found
                except CodatError as exc:
                    log.warning("could not look at the syncs of company %s (%s)", company_id, exc)
                    return []

        looks = await asyncio.gather(*(look(company, open_here) for company, open_here in by_company.items()))
        for batch in sorted((b for found in looks for b in found), key=lambda b: b.updated_at):
            yield batch

    # ------------------------------------------------------------------ receipts

    def receipt_rules(self, software: str) -> ReceiptRules:
        name = self.software.display_name(software)
        if software == "pqsw":
            return ReceiptRules(name, None, frozenset(), "", takes_receipts=False)
        max_bytes, types, kinds, expense_types = _RECEIPTS.get(software, _DEFAULT_RECEIPTS)
        return ReceiptRules(name, max_bytes, types, kinds, expense_types=expense_types)

    @_in_port_terms
    async def upload_attachment(
        self,
        company_id: str,
        connection_id: str,
        sync_batch_id: str,
        expense_id: str,
        file_name: str,
        content: bytes,
        content_type: str,
    ) -> Attachment:
        answer = await self.client.upload_attachment(
            company_id, sync_batch_id, expense_id, file_name, content, content_type
        )
        return Attachment(
            id=answer.id or "",
            expense_id=expense_id,
            file_name=file_name,
            content_type=content_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )

    @_in_port_terms
    async def ping(self) -> str:
        page = await self.client.list_companies(page=1, page_size=1)
        total = page.total_results
        return f"{total} compan{'y' if total == 1 else 'ies'} on this API key"

    async def aclose(self) -> None:
        await self.client.aclose()


def _by_position(exc: ValidationFailedError, ids: Sequence[str]) -> Rejected:
    """Codat names a refused transaction by its id; the outbox finds items by position (``[3]``)."""
    index = {expense_id: i for i, expense_id in enumerate(ids)}
    details = [
        Problem(field=f"[{index[d.field]}]" if d.field in index else d.field, message=d.message) for d in exc.details
    ]
    return Rejected(
        exc.message,
        status=exc.status,
        code=exc.code,
        details=details,
        request_id=exc.request_id,
        retry_after=exc.retry_after,
    )
