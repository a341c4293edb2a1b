import re
import uuid
from decimal import Decimal

import pytest

from sync2books.models import AccountType, IntegrationKey
from sync2books.sandbox.ledger import Ledger, accounting_id, seed_ledger

ALL_KEYS = list(IntegrationKey)
CONNECTION = "conn-7f3a"
OTHER_CONNECTION = "conn-91bd"

QBD_LIST_ID = re.compile(r"[0-9A-F]{8}-\d{10}")
SAGE_ID = re.compile(r"[0-9a-f]{32}")
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


LISTS = ("accounts", "tax_rates", "suppliers", "customers", "bank_accounts", "tracking_categories")


def ids_by_list(ledger: Ledger) -> dict[str, list[str]]:
    return {name: [item.id for item in getattr(ledger, name)] for name in LISTS}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_seed_is_deterministic(key: IntegrationKey) -> None:
    assert seed_ledger(key, CONNECTION) == seed_ledger(key, CONNECTION)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_counts(key: IntegrationKey) -> None:
    ledger = seed_ledger(key, CONNECTION)
    assert len(ledger.accounts) >= 20
    assert sum(account.type is AccountType.EXPENSE for account in ledger.accounts) >= 5
    assert len(ledger.bank_accounts) == 2
    assert len(ledger.suppliers) >= 10
    assert len(ledger.customers) >= 5
    parents = [category for category in ledger.tracking_categories if category.parent_id is None]
    assert len(parents) >= 2
    for parent in parents:
        assert any(category.parent_id == parent.id for category in ledger.tracking_categories)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_bank_accounts_are_bank_accounts_in_the_chart(key: IntegrationKey) -> None:
    ledger = seed_ledger(key, CONNECTION)
    by_id = {account.id: account for account in ledger.accounts}
    for bank in ledger.bank_accounts:
        account = by_id[bank.id]
        assert account.type is AccountType.ASSET
        assert account.is_bank_account
        assert account.name == bank.name
        assert bank.currency == ledger.base_currency
    assert {a.id for a in ledger.accounts if a.is_bank_account} == {b.id for b in ledger.bank_accounts}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_tax_rates_are_decimal_and_include_zero(key: IntegrationKey) -> None:
    ledger = seed_ledger(key, CONNECTION)
    assert all(type(rate.effective_rate) is Decimal for rate in ledger.tax_rates)
    assert any(rate.effective_rate == 0 for rate in ledger.tax_rates)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_tracking_children_have_existing_parents(key: IntegrationKey) -> None:
    categories = seed_ledger(key, CONNECTION).tracking_categories
    parent_ids = {category.id for category in categories if category.parent_id is None}
    children = [category for category in categories if category.parent_id is not None]
    assert children
    assert all(child.parent_id in parent_ids for child in children)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_account_currencies_are_the_base_currency(key: IntegrationKey) -> None:
    ledger = seed_ledger(key, CONNECTION)
    assert {account.currency for account in ledger.accounts} == {ledger.base_currency}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_ids_are_unique_within_each_list(key: IntegrationKey) -> None:
    for name, ids in ids_by_list(seed_ledger(key, CONNECTION)).items():
        assert len(ids) == len(set(ids)), name


def test_currencies_and_multi_currency() -> None:
    expected = {
        IntegrationKey.QUICKBOOKS: ("USD", True),
        IntegrationKey.QUICKBOOKS_DESKTOP: ("USD", False),
        IntegrationKey.XERO: ("GBP", True),
        IntegrationKey.SAGE: ("GBP", True),
    }
    for key, (currency, multi) in expected.items():
        ledger = seed_ledger(key, CONNECTION)
        assert (ledger.base_currency, ledger.multi_currency) == (currency, multi)


def test_quickbooks_online_ids_are_small_numbers_repeated_across_companies() -> None:
    ledger = seed_ledger(IntegrationKey.QUICKBOOKS, CONNECTION)
    for ids in ids_by_list(ledger).values():
        assert all(id_.isdigit() for id_ in ids)
    assert ledger == seed_ledger(IntegrationKey.QUICKBOOKS, OTHER_CONNECTION)
    assert all(account.nominal_code is None for account in ledger.accounts)


def test_quickbooks_desktop_list_ids() -> None:
    ledger = seed_ledger(IntegrationKey.QUICKBOOKS_DESKTOP, CONNECTION)
    for ids in ids_by_list(ledger).values():
        assert all(QBD_LIST_ID.fullmatch(id_) for id_ in ids)
    assert ledger.accounts[0].id.startswith("80000001-")
    assert all(account.nominal_code and account.nominal_code.isdigit() for account in ledger.accounts)


def test_xero_ids_are_guids_and_tax_rates_use_tax_types() -> None:
    ledger = seed_ledger(IntegrationKey.XERO, CONNECTION)
    for name, ids in ids_by_list(ledger).items():
        if name != "tax_rates":
            assert all(UUID_TEXT.fullmatch(id_) for id_ in ids)
    assert all(rate.id == rate.code for rate in ledger.tax_rates)
    input2 = next(rate for rate in ledger.tax_rates if rate.code == "INPUT2")
    assert (input2.name, input2.effective_rate) == ("20% (VAT on Expenses)", Decimal("20.0"))
    codes = {account.nominal_code: account.name for account in ledger.accounts}
    assert codes["090"] == "Business Bank Account"
    assert codes["429"] == "General Expenses"


def test_sage_ids_are_32_hex_and_tax_codes_are_sage_codes() -> None:
    ledger = seed_ledger(IntegrationKey.SAGE, CONNECTION)
    for name, ids in ids_by_list(ledger).items():
        if name != "tax_rates":
            assert all(SAGE_ID.fullmatch(id_) for id_ in ids)
    rates = {rate.code: rate.effective_rate for rate in ledger.tax_rates}
    assert rates == {
        "T0": Decimal(0),
        "T1": Decimal(20),
        "T2": Decimal(0),
        "T5": Decimal(5),
        "T9": Decimal(0),
    }
    codes = {account.nominal_code: account.name for account in ledger.accounts}
    assert codes["1200"] == "Bank current account"
    assert codes["7100"] == "Rent"


@pytest.mark.parametrize("key", [IntegrationKey.XERO, IntegrationKey.SAGE])
def test_globally_unique_ids_differ_between_connections(key: IntegrationKey) -> None:
    first, second = seed_ledger(key, CONNECTION), seed_ledger(key, OTHER_CONNECTION)
    first_ids, second_ids = ids_by_list(first), ids_by_list(second)
    for name in LISTS:
        if name != "tax_rates":  # fixed by the software, not minted per organisation
            assert set(first_ids[name]).isdisjoint(second_ids[name]), name
    # Same books otherwise: only the ids change.
    assert [a.name for a in first.accounts] == [a.name for a in second.accounts]


def test_quickbooks_desktop_stamp_depends_on_connection() -> None:
    first = seed_ledger(IntegrationKey.QUICKBOOKS_DESKTOP, CONNECTION).accounts[0].id
    second = seed_ledger(IntegrationKey.QUICKBOOKS_DESKTOP, OTHER_CONNECTION).accounts[0].id
    assert first != second
    assert first.split("-")[0] == second.split("-")[0] == "80000001"


EXPENSE_ID = "3f2b8c1e-6a4d-4e8f-9b0a-1c2d3e4f5a6b"
OTHER_EXPENSE_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
ACCOUNTING_ID_STYLES = {
    IntegrationKey.QUICKBOOKS: re.compile(r"purchase-\d+"),
    IntegrationKey.QUICKBOOKS_DESKTOP: re.compile(r"[0-9A-F]+-\d{10}"),
    IntegrationKey.XERO: UUID_TEXT,
    IntegrationKey.SAGE: SAGE_ID,
}


@pytest.mark.parametrize("key", ALL_KEYS)
def test_accounting_id_style_and_determinism(key: IntegrationKey) -> None:
    made = accounting_id(key, 42, EXPENSE_ID)
    assert ACCOUNTING_ID_STYLES[key].fullmatch(made)
    assert made == accounting_id(key, 42, EXPENSE_ID)


def test_accounting_id_examples() -> None:
    assert accounting_id(IntegrationKey.QUICKBOOKS, 42, EXPENSE_ID) == "purchase-1042"
    assert accounting_id(IntegrationKey.QUICKBOOKS_DESKTOP, 42, EXPENSE_ID).startswith("2A-")
    assert uuid.UUID(accounting_id(IntegrationKey.XERO, 1, EXPENSE_ID)).version == 5


@pytest.mark.parametrize("key", [IntegrationKey.QUICKBOOKS_DESKTOP, IntegrationKey.XERO, IntegrationKey.SAGE])
def test_accounting_id_depends_on_expense(key: IntegrationKey) -> None:
    assert accounting_id(key, 1, EXPENSE_ID) != accounting_id(key, 1, OTHER_EXPENSE_ID)


def test_xero_and_sage_transaction_ids_differ_for_the_same_expense() -> None:
    xero = uuid.UUID(accounting_id(IntegrationKey.XERO, 1, EXPENSE_ID))
    assert xero.hex != accounting_id(IntegrationKey.SAGE, 1, EXPENSE_ID)
