"""The books a sandbox connection starts with: each accounting software's own default ledger.

A freshly authorized connection should look like what the customer would see in that software on
day one: its default chart of accounts and numbering, its tax rates, its id formats, suppliers and
customers that fit the country. Everything derives from the integration key and the connection id,
so the sandbox can rebuild identical books at any time instead of storing them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from sync2books.models import (
    Account,
    AccountType,
    BankAccount,
    Customer,
    IntegrationKey,
    Supplier,
    TaxRate,
    TrackingCategory,
)


@dataclass(frozen=True)
class Ledger:
    base_currency: str
    multi_currency: bool  # False for QuickBooks Desktop (expenses in another currency fail there)
    accounts: tuple[Account, ...]
    tax_rates: tuple[TaxRate, ...]
    suppliers: tuple[Supplier, ...]
    customers: tuple[Customer, ...]
    bank_accounts: tuple[BankAccount, ...]
    tracking_categories: tuple[TrackingCategory, ...]


# --------------------------------------------------------------------------- id formats

_Kind = Literal["account", "tax_rate", "supplier", "customer", "tracking"]
# (kind, key) -> id, where key is unique within its kind; a minter may count, so call it in seed order.
_Minter = Callable[[_Kind, str], str]

_NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://sandbox.sync2books.invalid/ledger")


def _namespace(integration_key: IntegrationKey, scope: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{integration_key.value}/{scope}")


def _unix_time_like(text: str) -> int:
    """A 10-digit number between 2020 and 2026 as Unix time: QuickBooks Desktop stamps ids with one."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    return 1_580_000_000 + digest % 200_000_000


def _quickbooks_online_ids(connection_id: str) -> _Minter:
    # QBO numbers each entity on a per-company counter, so every new company repeats the same small
    # ids; customers and vendors share one name list and so one counter.
    counters: dict[str, int] = {}

    def mint(kind: _Kind, key: str) -> str:
        counter = "name" if kind in ("supplier", "customer") else kind
        counters[counter] = counters.get(counter, 0) + 1
        return str(counters[counter])

    return mint


def _quickbooks_desktop_ids(connection_id: str) -> _Minter:
    # A ListID is one company-file-wide hex counter starting at 80000001, then the creation time.
    stamp = _unix_time_like(f"{IntegrationKey.QUICKBOOKS_DESKTOP.value}/{connection_id}")
    created = 0

    def mint(kind: _Kind, key: str) -> str:
        nonlocal created
        created += 1
        return f"{0x80000000 + created:08X}-{stamp}"

    return mint


def _xero_ids(connection_id: str) -> _Minter:
    namespace = _namespace(IntegrationKey.XERO, connection_id)

    def mint(kind: _Kind, key: str) -> str:
        # Xero tax rates have no id of their own: their TaxType code ("INPUT2") is what the API uses.
        if kind == "tax_rate":
            return key
        return str(uuid.uuid5(namespace, f"{kind}/{key}"))

    return mint


# Sage Accounting's tax rates are fixed per country, not created per business, so their ids are too.
_SAGE_TAX_RATE_IDS: Final = {
    "T0": "GB_ZERO",
    "T1": "GB_STANDARD",
    "T2": "GB_EXEMPT",
    "T5": "GB_LOWER",
    "T9": "GB_NO_TAX",
}


def _sage_ids(connection_id: str) -> _Minter:
    namespace = _namespace(IntegrationKey.SAGE, connection_id)

    def mint(kind: _Kind, key: str) -> str:
        if kind == "tax_rate":
            return _SAGE_TAX_RATE_IDS[key]
        return uuid.uuid5(namespace, f"{kind}/{key}").hex

    return mint


def accounting_id(integration_key: IntegrationKey, sequence: int, expense_id: str) -> str:
    """The id the software gives the transaction an expense becomes, in that software's style."""
    match integration_key:
        case IntegrationKey.QUICKBOOKS:
            return f"purchase-{1000 + sequence}"
        case IntegrationKey.QUICKBOOKS_DESKTOP:
            return f"{sequence:X}-{_unix_time_like(f'{integration_key.value}/{expense_id}')}"
        case IntegrationKey.XERO:
            return str(uuid.uuid5(_namespace(integration_key, "transactions"), expense_id))
        case IntegrationKey.SAGE:
            return uuid.uuid5(_namespace(integration_key, "transactions"), expense_id).hex


# --------------------------------------------------------------------------- default books

_BANK: Final = "bank"  # an Asset account that is also one of the connection's two bank accounts
_AccountRow = tuple[str | None, str, AccountType | Literal["bank"]]  # nominal code, name, type
_TaxRow = tuple[str, str, str]  # code, name, percent as text so it becomes an exact Decimal
_TrackingRow = tuple[str, tuple[str, ...]]  # parent, children

_EXP, _AST, _LIA, _INC, _EQU = (
    AccountType.EXPENSE,
    AccountType.ASSET,
    AccountType.LIABILITY,
    AccountType.INCOME,
    AccountType.EQUITY,
)


@dataclass(frozen=True)
class _Books:
    base_currency: str
    multi_currency: bool
    accounts: tuple[_AccountRow, ...]
    tax_rates: tuple[_TaxRow, ...]
    suppliers: tuple[str, ...]
    customers: tuple[str, ...]
    tracking: tuple[_TrackingRow, ...]
    ids: Callable[[str], _Minter]


_US_SUPPLIERS = (
    "Staples",
    "Delta Air Lines",
    "Uber",
    "Amazon Business",
    "Comcast Business",
    "FedEx",
    "Verizon Wireless",
    "The Home Depot",
    "Marriott Hotels",
    "WeWork",
    "Shell",
    "Starbucks",
)
_US_CUSTOMERS = (
    "Brightline Dental Group",
    "Cedar & Pine Architects LLC",
    "Harborview Property Management",
    "Northwind Traders Inc.",
    "Summit Ridge Construction",
    "Bluebird Bakery Co.",
)
_UK_SUPPLIERS = (
    "Royal Mail",
    "BT Business",
    "Screwfix",
    "Trainline",
    "Pret A Manger",
    "Viking Direct",
    "Premier Inn",
    "British Gas Business",
    "Addison Lee",
    "Amazon UK",
    "Costa Coffee",
    "EE Business",
)
_UK_CUSTOMERS = (
    "Ashworth & Cole Solicitors LLP",
    "Brambleworth Homes Ltd",
    "Kestrel Engineering Ltd",
    "Northgate Dental Practice",
    "Thistle & Rose Interiors Ltd",
    "Wrenfield Academy Trust",
)

# QBO's default chart has no account numbers; its bank accounts are whatever the owner named them.
_QUICKBOOKS_ONLINE = _Books(
    base_currency="USD",
    multi_currency=True,
    accounts=(
        (None, "Business Checking", _BANK),
        (None, "Business Savings", _BANK),
        (None, "Accounts Receivable (A/R)", _AST),
        (None, "Undeposited Funds", _AST),
        (None, "Prepaid Expenses", _AST),
        (None, "Accounts Payable (A/P)", _LIA),
        (None, "Sales Tax Payable", _LIA),
        (None, "Payroll Liabilities", _LIA),
        (None, "Opening Balance Equity", _EQU),
        (None, "Owner's Investment", _EQU),
        (None, "Owner's Pay & Personal Expenses", _EQU),
        (None, "Retained Earnings", _EQU),
        (None, "Sales", _INC),
        (None, "Services", _INC),
        (None, "Uncategorized Income", _INC),
        (None, "Cost of Goods Sold", _EXP),
        (None, "Advertising & Marketing", _EXP),
        (None, "Bank Charges & Fees", _EXP),
        (None, "Car & Truck", _EXP),
        (None, "Contractors", _EXP),
        (None, "Dues & Subscriptions", _EXP),
        (None, "Insurance", _EXP),
        (None, "Interest Paid", _EXP),
        (None, "Job Supplies", _EXP),
        (None, "Legal & Professional Services", _EXP),
        (None, "Meals", _EXP),
        (None, "Office Supplies & Software", _EXP),
        (None, "Other Business Expenses", _EXP),
        (None, "Reimbursable Expenses", _EXP),
        (None, "Rent & Lease", _EXP),
        (None, "Repairs & Maintenance", _EXP),
        (None, "Shipping, Freight & Delivery", _EXP),
        (None, "Taxes & Licenses", _EXP),
        (None, "Travel", _EXP),
        (None, "Uncategorized Expense", _EXP),
        (None, "Utilities", _EXP),
    ),
    # US sales tax is set per state and city; purchases are mostly exempt or out of its scope.
    tax_rates=(
        ("NON", "Exempt", "0"),
        ("OOS", "Out of Scope", "0"),
        ("NY", "New York State", "4.0"),
        ("NYC", "NYC Sales Tax", "8.875"),
        ("CA", "California", "7.25"),
        ("SF", "San Francisco", "8.625"),
    ),
    suppliers=_US_SUPPLIERS,
    customers=_US_CUSTOMERS,
    tracking=(
        ("Department", ("Sales", "Engineering", "Operations")),
        ("Location", ("New York", "San Francisco", "Austin")),
    ),
    ids=_quickbooks_online_ids,
)

# QuickBooks Desktop's industry templates number accounts in five digits, expenses from 60000.
_QUICKBOOKS_DESKTOP = _Books(
    base_currency="USD",
    multi_currency=False,
    accounts=(
        ("10100", "Checking", _BANK),
        ("10300", "Savings", _BANK),
        ("11000", "Accounts Receivable", _AST),
        ("12000", "Undeposited Funds", _AST),
        ("15000", "Furniture and Equipment", _AST),
        ("20000", "Accounts Payable", _LIA),
        ("24000", "Payroll Liabilities", _LIA),
        ("25500", "Sales Tax Payable", _LIA),
        ("30000", "Opening Balance Equity", _EQU),
        ("30800", "Owners Draw", _EQU),
        ("32000", "Retained Earnings", _EQU),
        ("47900", "Sales", _INC),
        ("48900", "Consulting Income", _INC),
        ("50000", "Cost of Goods Sold", _EXP),
        ("60000", "Advertising and Promotion", _EXP),
        ("60200", "Automobile Expense", _EXP),
        ("60400", "Bank Service Charges", _EXP),
        ("61700", "Computer and Internet Expenses", _EXP),
        ("62400", "Depreciation Expense", _EXP),
        ("63300", "Insurance Expense", _EXP),
        ("63400", "Interest Expense", _EXP),
        ("64300", "Meals and Entertainment", _EXP),
        ("64900", "Office Supplies", _EXP),
        ("66700", "Professional Fees", _EXP),
        ("67100", "Rent Expense", _EXP),
        ("67200", "Repairs and Maintenance", _EXP),
        ("68100", "Telephone Expense", _EXP),
        ("68400", "Travel Expense", _EXP),
        ("68600", "Utilities", _EXP),
    ),
    # Desktop's sales tax codes are at most three characters; "Non" and "OOS" are its defaults.
    tax_rates=(
        ("Non", "Non-Taxable Sales", "0"),
        ("OOS", "Out of State", "0"),
        ("NY", "NY State Sales Tax", "4.0"),
        ("NYC", "NYC Sales Tax", "8.875"),
        ("CA", "CA State Sales Tax", "7.25"),
    ),
    suppliers=_US_SUPPLIERS,
    customers=_US_CUSTOMERS,
    tracking=(
        ("Department", ("Sales", "Engineering", "Operations")),
        ("Region", ("East", "Central", "West")),
    ),
    ids=_quickbooks_desktop_ids,
)

# Xero's UK default chart; 090/091 are the bank accounts of Xero's own UK demo company.
_XERO = _Books(
    base_currency="GBP",
    multi_currency=True,
    accounts=(
        ("090", "Business Bank Account", _BANK),
        ("091", "Business Savings Account", _BANK),
        ("200", "Sales", _INC),
        ("260", "Other Revenue", _INC),
        ("270", "Interest Income", _INC),
        ("310", "Cost of Goods Sold", _EXP),
        ("400", "Advertising", _EXP),
        ("404", "Bank Fees", _EXP),
        ("408", "Cleaning", _EXP),
        ("412", "Consulting & Accounting", _EXP),
        ("420", "Entertainment", _EXP),
        ("425", "Freight & Courier", _EXP),
        ("429", "General Expenses", _EXP),
        ("433", "Insurance", _EXP),
        ("437", "Interest Expense", _EXP),
        ("441", "Legal expenses", _EXP),
        ("445", "Light, Power, Heating", _EXP),
        ("449", "Motor Vehicle Expenses", _EXP),
        ("453", "Office Expenses", _EXP),
        ("461", "Printing & Stationery", _EXP),
        ("469", "Rent", _EXP),
        ("473", "Repairs and Maintenance", _EXP),
        ("477", "Salaries", _EXP),
        ("485", "Subscriptions", _EXP),
        ("489", "Telephone & Internet", _EXP),
        ("493", "Travel - National", _EXP),
        ("494", "Travel - International", _EXP),
        ("610", "Accounts Receivable", _AST),
        ("620", "Prepayments", _AST),
        ("710", "Office Equipment", _AST),
        ("720", "Computer Equipment", _AST),
        ("800", "Accounts Payable", _LIA),
        ("814", "Wages Payable - Payroll", _LIA),
        ("820", "VAT", _LIA),
        ("880", "Owner A Drawings", _EQU),
        ("881", "Owner A Funds Introduced", _EQU),
        ("900", "Loan", _LIA),
        ("960", "Retained Earnings", _EQU),
        ("970", "Owner A Share Capital", _EQU),
    ),
    tax_rates=(
        ("INPUT2", "20% (VAT on Expenses)", "20.0"),
        ("RRINPUT", "5% (VAT on Expenses)", "5.0"),
        ("ZERORATEDINPUT", "Zero Rated Expenses", "0"),
        ("EXEMPTINPUT", "Exempt Expenses", "0"),
        ("NONE", "No VAT", "0"),
        ("OUTPUT2", "20% (VAT on Income)", "20.0"),
    ),
    suppliers=_UK_SUPPLIERS,
    customers=_UK_CUSTOMERS,
    # Xero allows two active tracking categories; these are the ones its demo company uses.
    tracking=(
        ("Region", ("North", "South", "Eastside", "West Coast")),
        ("Department", ("Sales", "Marketing", "Operations")),
    ),
    ids=_xero_ids,
)

# Sage's long-standing UK nominal codes, shared by Sage 50 and Sage Accounting.
_SAGE = _Books(
    base_currency="GBP",
    multi_currency=True,
    accounts=(
        ("0030", "Office equipment", _AST),
        ("1100", "Debtors control account", _AST),
        ("1103", "Prepayments", _AST),
        ("1200", "Bank current account", _BANK),
        ("1210", "Bank deposit account", _BANK),
        ("2100", "Creditors control account", _LIA),
        ("2200", "Sales tax control account", _LIA),
        ("2201", "Purchase tax control account", _LIA),
        ("2202", "VAT liability", _LIA),
        ("2210", "PAYE", _LIA),
        ("3000", "Ordinary shares", _EQU),
        ("3200", "Profit and loss account", _EQU),
        ("4000", "Sales type A", _INC),
        ("4900", "Miscellaneous income", _INC),
        ("5000", "Cost of sales - goods", _EXP),
        ("6201", "Advertising", _EXP),
        ("7000", "Gross wages", _EXP),
        ("7100", "Rent", _EXP),
        ("7103", "General rates", _EXP),
        ("7200", "Electricity", _EXP),
        ("7300", "Fuel and oil", _EXP),
        ("7400", "Travelling", _EXP),
        ("7402", "Hotels", _EXP),
        ("7403", "UK entertainment", _EXP),
        ("7500", "Printing", _EXP),
        ("7501", "Postage and carriage", _EXP),
        ("7502", "Telephone", _EXP),
        ("7504", "Office stationery", _EXP),
        ("7600", "Legal fees", _EXP),
        ("7601", "Audit and accountancy fees", _EXP),
        ("7602", "Consultancy fees", _EXP),
        ("7800", "Repairs and renewals", _EXP),
        ("7900", "Bank interest paid", _EXP),
        ("7901", "Bank charges", _EXP),
        ("8200", "Donations", _EXP),
        ("8204", "Insurance", _EXP),
        ("8205", "Refreshments", _EXP),
    ),
    tax_rates=(
        ("T0", "Zero rated", "0"),
        ("T1", "Standard 20.00%", "20.0"),
        ("T2", "Exempt", "0"),
        ("T5", "Lower rate 5.00%", "5.0"),
        ("T9", "No VAT", "0"),
    ),
    suppliers=_UK_SUPPLIERS,
    customers=_UK_CUSTOMERS,
    # Sage Accounting calls these analysis types.
    tracking=(
        ("Cost centre", ("Head Office", "Manchester", "Bristol")),
        ("Department", ("Sales", "Operations", "Administration")),
    ),
    ids=_sage_ids,
)

_BOOKS: Final = {
    IntegrationKey.QUICKBOOKS: _QUICKBOOKS_ONLINE,
    IntegrationKey.QUICKBOOKS_DESKTOP: _QUICKBOOKS_DESKTOP,
    IntegrationKey.XERO: _XERO,
    IntegrationKey.SAGE: _SAGE,
}


# --------------------------------------------------------------------------- seeding


def _account(row: _AccountRow, mint: _Minter, currency: str) -> Account:
    code, name, kind = row
    return Account(
        id=mint("account", name),
        name=name,
        nominal_code=code,
        type=AccountType.ASSET if kind == _BANK else kind,
        currency=currency,
        is_bank_account=kind == _BANK,
    )


def _tax_rate(row: _TaxRow, mint: _Minter) -> TaxRate:
    code, name, percent = row
    return TaxRate(id=mint("tax_rate", code), name=name, code=code, effective_rate=Decimal(percent))


def _tracking_categories(rows: Iterable[_TrackingRow], mint: _Minter) -> tuple[TrackingCategory, ...]:
    categories: list[TrackingCategory] = []
    for parent, children in rows:
        parent_id = mint("tracking", parent)
        categories.append(TrackingCategory(id=parent_id, name=parent))
        # Child names repeat across parents ("Sales"), so their key includes the parent.
        categories.extend(
            TrackingCategory(id=mint("tracking", f"{parent}/{child}"), name=child, parent_id=parent_id)
            for child in children
        )
    return tuple(categories)


def seed_ledger(integration_key: IntegrationKey, connection_id: str) -> Ledger:
    """The ledger a new connection to ``integration_key`` starts with; the same for the same arguments."""
    books = _BOOKS[integration_key]
    mint = books.ids(connection_id)
    accounts = tuple(_account(row, mint, books.base_currency) for row in books.accounts)
    return Ledger(
        base_currency=books.base_currency,
        multi_currency=books.multi_currency,
        accounts=accounts,
        tax_rates=tuple(_tax_rate(row, mint) for row in books.tax_rates),
        suppliers=tuple(Supplier(id=mint("supplier", name), name=name) for name in books.suppliers),
        customers=tuple(Customer(id=mint("customer", name), name=name) for name in books.customers),
        # The software keeps one record per bank account, so both lists must share its id.
        bank_accounts=tuple(
            BankAccount(id=account.id, name=account.name, currency=account.currency)
            for account in accounts
            if account.is_bank_account
        ),
        tracking_categories=_tracking_categories(books.tracking, mint),
    )
