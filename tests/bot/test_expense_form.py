"""The expense modal's checks: every message as the person reads it, every problem at once, Decimals exact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.expense_form import ExpenseInput, FormErrors, LineInput, build_expense, parse_amount
from sync2books.models import (
    ContactRef,
    ContactType,
    Expense,
    ExpenseLine,
    ExpenseType,
    InvoiceTo,
    Ref,
    TrackingDataType,
    TrackingRef,
)

EXPENSE_ID = "77921ff9-2491-4dfe-b23b-ff28f3e31e4f"
BASE = "GBP"
TODAY = date(2026, 11, 20)


@dataclass(frozen=True)
class Case:
    """One currency and amounts that are right, and wrong, for its minor unit."""

    currency: str
    places: int
    net_text: str
    net: Decimal
    tax_text: str
    tax: Decimal
    too_precise: str
    too_precise_problem: str
    example: str


USD = Case(
    currency="USD",
    places=2,
    net_text="1,234.50",
    net=Decimal("1234.50"),
    tax_text="246.9",
    tax=Decimal("246.90"),
    too_precise="12.345",
    too_precise_problem="must be a number with at most 2 decimals for USD",
    example="1,234.50",
)
JPY = Case(
    currency="JPY",
    places=0,
    net_text="1,200",
    net=Decimal("1200"),
    tax_text="120",
    tax=Decimal("120"),
    too_precise="1200.5",
    too_precise_problem="must be a whole number for JPY",
    example="1,234",
)
BHD = Case(
    currency="BHD",
    places=3,
    net_text="1.234",
    net=Decimal("1.234"),
    tax_text="0.05",
    tax=Decimal("0.050"),
    too_precise="1.2345",
    too_precise_problem="must be a number with at most 3 decimals for BHD",
    example="1,234.500",
)
CASES = [USD, JPY, BHD]


def good_line(case: Case) -> LineInput:
    return LineInput(
        account_id="acc-1",
        tax_rate_id="tax-1",
        net_amount=case.net_text,
        tax_amount=case.tax_text,
        tracking_ids=("trk-1", "trk-2"),
        invoice_to_id="cus-1",
    )


def valid_form(case: Case) -> ExpenseInput:
    return ExpenseInput(
        expense_type="Payment",
        issue_date="2026-11-20",
        currency=case.currency,
        currency_rate="1.25",
        merchant="  Coffee Corner ",
        contact="Supplier:sup-1",
        bank_account_id="bank-1",
        lines=(good_line(case),),
        notes=" Team lunch\n",
        post_as_draft=True,
    )


def with_line(form: ExpenseInput, **changes: object) -> ExpenseInput:
    return replace(form, lines=(replace(form.lines[0], **changes),))


BOTH_TYPES = frozenset({"Payment", "DirectCost"})


def build(form: ExpenseInput, base: str = BASE, allowed_types: frozenset[str] = BOTH_TYPES) -> Expense:
    return build_expense(form, expense_id=EXPENSE_ID, base_currency=base, allowed_types=allowed_types, today=TODAY)


def errors_of(form: ExpenseInput, base: str = BASE, allowed_types: frozenset[str] = BOTH_TYPES) -> dict[str, str]:
    with pytest.raises(FormErrors) as caught:
        build(form, base, allowed_types)
    return caught.value.errors


def refusal(text: str, currency: str = "USD", label: str = "Net amount") -> str:
    try:
        parse_amount(text, currency, label)
    except ValueError as problem:
        return str(problem)
    pytest.fail(f"{text!r} was accepted for {currency}")


# --------------------------------------------------------------------------- parse_amount


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1,234.50", "USD", "1234.50"),
        ("1234.5", "USD", "1234.50"),
        ("12.500", "USD", "12.50"),
        ("  12.5 ", "USD", "12.50"),
        ("$12.50", "USD", "12.50"),
        ("USD 12.50", "USD", "12.50"),
        ("usd12.50", "USD", "12.50"),
        ("-$12.50", "USD", "-12.50"),
        ("$-12.50", "USD", "-12.50"),
        ("-1,234.5", "USD", "-1234.50"),
        ("+7", "USD", "7.00"),
        (".5", "USD", "0.50"),
        ("-0", "USD", "0.00"),
        ("999,999,999,999,999.99", "USD", "999999999999999.99"),
        ("1200", "JPY", "1200"),
        ("1,200", "JPY", "1200"),
        ("¥1,200", "JPY", "1200"),
        ("1200.0", "JPY", "1200"),
        ("1.234", "BHD", "1.234"),
        ("BHD 1.2", "BHD", "1.200"),
        ("CA$5", "CAD", "5.00"),
    ],
)
def test_amounts_people_type_are_read_exactly(text: str, currency: str, expected: str) -> None:
    amount = parse_amount(text, currency, "Net amount")
    assert isinstance(amount, Decimal)
    assert str(amount) == expected


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("12.345", "USD", "Net amount must be a number with at most 2 decimals for USD"),
        ("1200.5", "JPY", "Net amount must be a whole number for JPY"),
        ("1.2345", "BHD", "Net amount must be a number with at most 3 decimals for BHD"),
        ("abc", "USD", "Net amount must be a number, like 1,234.50"),
        ("1.2.3", "USD", "Net amount must be a number, like 1,234.50"),
        ("12,34", "USD", "Net amount must be a number, like 1,234.50"),
        ("1e5", "USD", "Net amount must be a number, like 1,234.50"),
        ("NaN", "USD", "Net amount must be a number, like 1,234.50"),
        ("Infinity", "USD", "Net amount must be a number, like 1,234.50"),
        ("-Infinity", "USD", "Net amount must be a number, like 1,234.50"),
        ("12_000", "USD", "Net amount must be a number, like 1,234.50"),
        ("١٢", "USD", "Net amount must be a number, like 1,234.50"),
        ("1 234.50", "USD", "Net amount must be a number, like 1,234.50"),
        ("12.50 USD", "USD", "Net amount must be a number, like 1,234.50"),
        ("abc", "JPY", "Net amount must be a number, like 1,234"),
        ("abc", "BHD", "Net amount must be a number, like 1,234.500"),
        ("€12.50", "USD", "Net amount must be in USD, the currency of this expense."),
        ("EUR 12.50", "USD", "Net amount must be in USD, the currency of this expense."),
        ("$12.50", "CAD", "Net amount must be in CAD, the currency of this expense."),
        ("", "USD", "Enter the net amount."),
        ("   ", "USD", "Enter the net amount."),
        ("USD", "USD", "Enter the net amount."),
        ("1234567890123456", "USD", "Net amount is too large."),
        ("1,234,567,890,123,456", "JPY", "Net amount is too large."),
    ],
)
def test_amounts_refused_with_a_plain_sentence(text: str, currency: str, message: str) -> None:
    assert refusal(text, currency) == message


def test_the_label_names_the_field() -> None:
    assert refusal("", label="Tax amount") == "Enter the tax amount."
    assert refusal("12.345", label="Tax amount") == "Tax amount must be a number with at most 2 decimals for USD"
    assert refusal("x", "JPY", label="Tax amount") == "Tax amount must be a number, like 1,234"
    assert refusal("1200.5", "JPY", label="Tax amount") == "Tax amount must be a whole number for JPY"


def test_an_unknown_currency_is_the_callers_bug_not_the_persons() -> None:
    # Not a ValueError: a caller showing ValueErrors to the person must not blame them for it.
    with pytest.raises(LookupError, match="unknown currency"):
        parse_amount("12", "usd", "Net amount")
    with pytest.raises(LookupError, match="unknown currency"):
        parse_amount("12", "XYZ", "Net amount")


LIMIT = Decimal(10**15 - 1)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.currency)
@settings(deadline=None)
@given(data=st.data())
def test_babel_formatted_amounts_read_back_to_the_same_value(case: Case, data: st.DataObject) -> None:
    value = data.draw(st.decimals(min_value=-LIMIT, max_value=LIMIT, places=case.places))
    # Babel's default pattern rounds to 3 decimals; the amount must reach the parser as it is.
    text = format_decimal(value, locale="en_US", decimal_quantization=False)
    amount = parse_amount(text, case.currency, "Net amount")
    assert amount == value
    assert amount.as_tuple().exponent == -case.places


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.currency)
@settings(deadline=None)
@given(data=st.data())
def test_one_decimal_too_many_is_refused(case: Case, data: st.DataObject) -> None:
    value = data.draw(st.decimals(min_value=-LIMIT, max_value=LIMIT, places=case.places))
    extra = Decimal(data.draw(st.integers(min_value=1, max_value=9))).scaleb(-(case.places + 1))
    text = format_decimal(value + extra, locale="en_US", decimal_quantization=False)
    assert refusal(text, case.currency) == f"Net amount {case.too_precise_problem}"


# --------------------------------------------------------------------------- build_expense: valid forms


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.currency)
def test_a_valid_form_builds_the_expense_field_by_field(case: Case) -> None:
    expense = build(valid_form(case))

    expected = Expense(
        id=EXPENSE_ID,
        type=ExpenseType.PAYMENT,
        issue_date=date(2026, 11, 20),
        currency=case.currency,
        currency_rate=Decimal("1.25"),
        merchant_name="Coffee Corner",
        contact_ref=ContactRef(id="sup-1", type=ContactType.SUPPLIER),
        bank_account_ref=Ref(id="bank-1"),
        lines=[
            ExpenseLine(
                net_amount=case.net,
                tax_amount=case.tax,
                tax_rate_ref=Ref(id="tax-1"),
                account_ref=Ref(id="acc-1"),
                tracking_refs=[
                    TrackingRef(id="trk-1", data_type=TrackingDataType.TRACKING_CATEGORIES),
                    TrackingRef(id="trk-2", data_type=TrackingDataType.TRACKING_CATEGORIES),
                ],
                invoice_to=InvoiceTo(id="cus-1"),
            )
        ],
        notes="Team lunch",
        post_as_draft=True,
    )
    assert expense == expected
    # Decimal("1234.5") == Decimal("1234.50"), so equality alone would not show the minor unit was kept.
    (line,) = expense.lines
    assert (str(line.net_amount), str(line.tax_amount)) == (str(case.net), str(case.tax))
    assert str(expense.currency_rate) == "1.25"
    # What the form builds, the API accepts: no cross-field rule of the contract is broken.
    assert expense.problems(BASE) == []


def test_a_minimal_form_leaves_the_optional_fields_out() -> None:
    form = ExpenseInput(
        expense_type="DirectCost",
        issue_date="2026-01-31",
        currency="USD",
        lines=(LineInput(account_id="acc-1", tax_rate_id="tax-1", net_amount="10", tax_amount="0"),),
    )
    assert build(form, base="USD") == Expense(
        id=EXPENSE_ID,
        type=ExpenseType.DIRECT_COST,
        issue_date=date(2026, 1, 31),
        currency="USD",
        lines=[
            ExpenseLine(
                net_amount=Decimal("10.00"),
                tax_amount=Decimal("0.00"),
                tax_rate_ref=Ref(id="tax-1"),
                account_ref=Ref(id="acc-1"),
            )
        ],
    )


def test_a_customer_contact_is_kept_as_a_customer() -> None:
    expense = build(replace(valid_form(USD), contact="Customer:cus-9"))
    assert expense.contact_ref == ContactRef(id="cus-9", type=ContactType.CUSTOMER)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.currency)
@pytest.mark.parametrize("rate", ["1.25", "abc", "", None])
def test_the_rate_is_ignored_when_the_currency_is_the_base(case: Case, rate: str | None) -> None:
    expense = build(replace(valid_form(case), currency_rate=rate), base=case.currency)
    assert expense.currency_rate is None


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"currency": " usd "}, lambda e: e.currency == "USD"),
        ({"issue_date": "2027-11-20"}, lambda e: e.issue_date == date(2027, 11, 20)),
        ({"issue_date": "1999-12-31"}, lambda e: e.issue_date == date(1999, 12, 31)),
        ({"currency_rate": "1.123456789"}, lambda e: e.currency_rate == Decimal("1.123456789")),
        ({"currency_rate": "1,234.5"}, lambda e: e.currency_rate == Decimal("1234.5")),
        ({"currency_rate": "0.5000000000000"}, lambda e: e.currency_rate == Decimal("0.5")),
        ({"merchant": " " + "m" * 100 + " "}, lambda e: e.merchant_name == "m" * 100),
        ({"merchant": "   "}, lambda e: e.merchant_name is None),
        ({"notes": "n" * 2000}, lambda e: e.notes == "n" * 2000),
        ({"notes": "\n"}, lambda e: e.notes is None),
        ({"contact": None}, lambda e: e.contact_ref is None),
        ({"contact": ""}, lambda e: e.contact_ref is None),
        ({"bank_account_id": None}, lambda e: e.bank_account_ref is None),
        ({"post_as_draft": False}, lambda e: e.post_as_draft is False),
    ],
)
def test_values_at_the_edge_are_accepted(change: dict[str, Any], check: Callable[[Expense], bool]) -> None:
    assert check(build(replace(valid_form(USD), **change)))


@pytest.mark.parametrize(
    ("net", "tax", "expected"),
    [
        ("-100", "-20", ("-100.00", "-20.00")),  # a refund, tax refunded with it
        ("-100", "20", ("-100.00", "20.00")),
        ("0", "0", ("0.00", "0.00")),
        ("100", "0", ("100.00", "0.00")),
    ],
)
def test_refunds_and_zero_amounts_are_accepted(net: str, tax: str, expected: tuple[str, str]) -> None:
    (line,) = build(with_line(valid_form(USD), net_amount=net, tax_amount=tax)).lines
    assert (str(line.net_amount), str(line.tax_amount)) == expected


def test_ten_tracking_categories_are_allowed_and_a_repeat_is_dropped() -> None:
    ids = tuple(f"trk-{n}" for n in range(10))
    (line,) = build(with_line(valid_form(USD), tracking_ids=(*ids, "trk-0"))).lines
    assert [ref.id for ref in line.tracking_refs or []] == list(ids)


def test_a_line_without_tracking_or_invoice_to_sends_neither() -> None:
    (line,) = build(with_line(valid_form(USD), tracking_ids=(), invoice_to_id=None)).lines
    assert (line.tracking_refs, line.invoice_to) == (None, None)


# --------------------------------------------------------------------------- build_expense: problems


def single_problems(case: Case) -> list[Any]:
    form = valid_form(case)
    c = case.currency

    def each(label: str, bad: ExpenseInput, field: str, message: str) -> Any:
        return pytest.param(bad, {field: message}, id=f"{c}-{label}")

    def line(label: str, field: str, message: str, **changes: object) -> Any:
        return each(label, with_line(form, **changes), f"line0_{field}", message)

    not_positive = "Exchange rate must be a positive number, like 1.2345."
    choose_type = "Choose Payment or Direct cost."
    real_date = "Enter a real date, like 2026-11-20."
    choose_currency = "Choose a currency, like USD."
    choose_contact = "Choose a supplier or customer from the list."
    return [
        each("type-missing", replace(form, expense_type=None), "type", choose_type),
        each("type-unknown", replace(form, expense_type="Bill"), "type", choose_type),
        each("type-lowercase", replace(form, expense_type="payment"), "type", choose_type),
        each("date-missing", replace(form, issue_date=None), "issue_date", "Choose the date of the expense."),
        each("date-empty", replace(form, issue_date=" "), "issue_date", "Choose the date of the expense."),
        each("date-not-real", replace(form, issue_date="2026-02-30"), "issue_date", real_date),
        each("date-month-13", replace(form, issue_date="2026-13-01"), "issue_date", real_date),
        each("date-day-first", replace(form, issue_date="20/11/2026"), "issue_date", real_date),
        each("date-basic-iso", replace(form, issue_date="20261120"), "issue_date", real_date),
        each("date-words", replace(form, issue_date="tomorrow"), "issue_date", real_date),
        each(
            "date-too-far",
            replace(form, issue_date="2027-11-21"),
            "issue_date",
            "The date can't be more than a year ahead.",
        ),
        each("currency-missing", replace(form, currency=None), "currency", choose_currency),
        each("currency-empty", replace(form, currency=""), "currency", choose_currency),
        each("currency-unknown", replace(form, currency="XYZ"), "currency", choose_currency),
        each("currency-symbol", replace(form, currency="$"), "currency", choose_currency),
        each(
            "rate-missing",
            replace(form, currency_rate=None),
            "currency_rate",
            f"Enter the exchange rate from {c} to GBP.",
        ),
        each(
            "rate-blank",
            replace(form, currency_rate="  "),
            "currency_rate",
            f"Enter the exchange rate from {c} to GBP.",
        ),
        each("rate-words", replace(form, currency_rate="abc"), "currency_rate", not_positive),
        each("rate-zero", replace(form, currency_rate="0"), "currency_rate", not_positive),
        each("rate-negative", replace(form, currency_rate="-1.25"), "currency_rate", not_positive),
        each("rate-exponent", replace(form, currency_rate="1e5"), "currency_rate", not_positive),
        each("rate-nan", replace(form, currency_rate="NaN"), "currency_rate", not_positive),
        each(
            "rate-10-decimals",
            replace(form, currency_rate="1.1234567891"),
            "currency_rate",
            "Exchange rate can have at most 9 decimals.",
        ),
        each(
            "merchant-long", replace(form, merchant="m" * 101), "merchant", "Merchant can have at most 100 characters."
        ),
        each("contact-kind", replace(form, contact="Vendor:v-1"), "contact", choose_contact),
        each("contact-no-id", replace(form, contact="Supplier:"), "contact", choose_contact),
        each("contact-bare-id", replace(form, contact="sup-1"), "contact", choose_contact),
        each("contact-lowercase", replace(form, contact="supplier:sup-1"), "contact", choose_contact),
        each("contact-long-id", replace(form, contact="Supplier:" + "x" * 101), "contact", choose_contact),
        each(
            "bank-long-id",
            replace(form, bank_account_id="b" * 101),
            "bank_account",
            "Choose a bank account from the list.",
        ),
        each("notes-long", replace(form, notes="n" * 2001), "notes", "Notes can have at most 2000 characters."),
        each("no-lines", replace(form, lines=()), "lines", "Add at least one line."),
        each(
            "101-lines",
            replace(form, lines=(good_line(case),) * 101),
            "lines",
            "An expense can have at most 100 lines.",
        ),
        line("account-missing", "account", "Choose an account.", account_id=None),
        line("account-empty", "account", "Choose an account.", account_id=""),
        line("account-long", "account", "Choose an account.", account_id="a" * 101),
        line("tax-rate-missing", "tax_rate", "Choose a tax rate.", tax_rate_id=None),
        line("net-empty", "net", "Enter the net amount.", net_amount=""),
        line("net-blank", "net", "Enter the net amount.", net_amount="  "),
        line("tax-empty", "tax", "Enter the tax amount.", tax_amount=""),
        line("net-words", "net", f"Net amount must be a number, like {case.example}", net_amount="abc"),
        line("tax-words", "tax", f"Tax amount must be a number, like {case.example}", tax_amount="1.2.3"),
        line("net-exponent", "net", f"Net amount must be a number, like {case.example}", net_amount="1e5"),
        line("tax-nan", "tax", f"Tax amount must be a number, like {case.example}", tax_amount="NaN"),
        line("net-infinity", "net", f"Net amount must be a number, like {case.example}", net_amount="Infinity"),
        line("net-too-precise", "net", f"Net amount {case.too_precise_problem}", net_amount=case.too_precise),
        line("tax-too-precise", "tax", f"Tax amount {case.too_precise_problem}", tax_amount=case.too_precise),
        line("net-too-large", "net", "Net amount is too large.", net_amount="1234567890123456"),
        line(
            "net-other-currency",
            "net",
            f"Net amount must be in {c}, the currency of this expense.",
            net_amount="EUR 12",
        ),
        line(
            "tax-negative",
            "tax",
            "Tax amount can't be negative when the net amount isn't.",
            tax_amount="-1",
        ),
        line(
            "tax-negative-zero-net",
            "tax",
            "Tax amount can't be negative when the net amount isn't.",
            net_amount="0",
            tax_amount="-1",
        ),
        line(
            "tracking-11",
            "tracking",
            "Choose at most 10 tracking categories.",
            tracking_ids=tuple(f"trk-{n}" for n in range(11)),
        ),
        line(
            "tracking-long-id",
            "tracking",
            "Choose tracking categories from the list.",
            tracking_ids=("t" * 101,),
        ),
        line("invoice-to-long-id", "invoice_to", "Choose a customer from the list.", invoice_to_id="c" * 101),
        each(
            "second-line",
            replace(form, lines=(good_line(case), replace(good_line(case), account_id=None))),
            "line1_account",
            "Choose an account.",
        ),
    ]


@pytest.mark.parametrize(("form", "expected"), [p for case in CASES for p in single_problems(case)])
def test_each_problem_alone_is_reported_alone(form: ExpenseInput, expected: dict[str, str]) -> None:
    assert errors_of(form) == expected


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.currency)
def test_every_problem_is_reported_at_once(case: Case) -> None:
    form = ExpenseInput(
        expense_type="Bill",
        issue_date="2026-13-01",
        currency=case.currency,
        currency_rate="-2",
        merchant="m" * 101,
        contact="Nobody",
        bank_account_id="b" * 101,
        lines=(
            LineInput(
                net_amount=case.too_precise,
                tax_amount="abc",
                tracking_ids=tuple(f"trk-{n}" for n in range(11)),
            ),
            LineInput(account_id="acc-1", tax_rate_id="tax-1", net_amount="10", tax_amount="-1"),
            LineInput(),
        ),
        notes="n" * 2001,
    )
    assert errors_of(form) == {
        "type": "Choose Payment or Direct cost.",
        "issue_date": "Enter a real date, like 2026-11-20.",
        "currency_rate": "Exchange rate must be a positive number, like 1.2345.",
        "merchant": "Merchant can have at most 100 characters.",
        "contact": "Choose a supplier or customer from the list.",
        "bank_account": "Choose a bank account from the list.",
        "notes": "Notes can have at most 2000 characters.",
        "line0_account": "Choose an account.",
        "line0_tax_rate": "Choose a tax rate.",
        "line0_net": f"Net amount {case.too_precise_problem}",
        "line0_tax": f"Tax amount must be a number, like {case.example}",
        "line0_tracking": "Choose at most 10 tracking categories.",
        "line1_tax": "Tax amount can't be negative when the net amount isn't.",
    }


def test_with_the_currency_wrong_the_amounts_are_still_checked_as_far_as_they_can_be() -> None:
    # Decimals depend on the currency, so "12.345" waits; "abc" is wrong in any currency.
    form = replace(valid_form(USD), currency="XYZ", currency_rate=None)
    form = replace(form, lines=(replace(good_line(USD), net_amount="12.345", tax_amount="abc"),))
    assert errors_of(form) == {
        "currency": "Choose a currency, like USD.",
        "line0_tax": "Tax amount must be a number, like 1,234.50",
    }


def test_with_the_currency_wrong_a_typed_rate_is_still_checked() -> None:
    form = replace(valid_form(USD), currency="XYZ", currency_rate="0")
    assert errors_of(form) == {
        "currency": "Choose a currency, like USD.",
        "currency_rate": "Exchange rate must be a positive number, like 1.2345.",
    }


def test_the_date_example_is_today() -> None:
    form = replace(valid_form(USD), issue_date="2026-02-30")
    assert errors_of(form) == {"issue_date": "Enter a real date, like 2026-11-20."}
    with pytest.raises(FormErrors) as caught:
        build_expense(form, expense_id=EXPENSE_ID, base_currency=BASE, today=date(2025, 3, 4))
    assert caught.value.errors == {"issue_date": "Enter a real date, like 2025-03-04."}


def test_a_year_ahead_from_29_february_ends_on_28_february() -> None:
    leap_day = date(2028, 2, 29)
    ok = build_expense(
        replace(valid_form(USD), issue_date="2029-02-28"), expense_id=EXPENSE_ID, base_currency=BASE, today=leap_day
    )
    assert ok.issue_date == date(2029, 2, 28)
    with pytest.raises(FormErrors) as caught:
        build_expense(
            replace(valid_form(USD), issue_date="2029-03-01"), expense_id=EXPENSE_ID, base_currency=BASE, today=leap_day
        )
    assert caught.value.errors == {"issue_date": "The date can't be more than a year ahead."}


@pytest.mark.parametrize(
    ("allowed", "expense_type", "message"),
    [
        (frozenset({"Payment"}), "DirectCost", "Choose Payment."),
        (frozenset({"DirectCost"}), "Payment", "Choose Direct cost."),
        (frozenset({"DirectCost", "Payment"}), None, "Choose Payment or Direct cost."),
    ],
)
def test_only_the_allowed_types_are_offered(allowed: frozenset[str], expense_type: str | None, message: str) -> None:
    form = replace(valid_form(USD), expense_type=expense_type)
    assert errors_of(form, allowed_types=allowed) == {"type": message}


def test_an_allowed_type_builds() -> None:
    form = replace(valid_form(USD), expense_type="DirectCost")
    assert build(form, allowed_types=frozenset({"DirectCost"})).type is ExpenseType.DIRECT_COST


@pytest.mark.parametrize("allowed", [frozenset(), frozenset({"Payment", "Bill"})])
def test_allowed_types_outside_the_contract_are_the_callers_bug(allowed: frozenset[str]) -> None:
    with pytest.raises(ValueError, match="allowed_types"):
        build(valid_form(USD), allowed_types=allowed)


def test_an_expense_id_that_is_not_a_uuid_is_the_callers_bug() -> None:
    with pytest.raises(ValueError, match="UUID"):
        build_expense(valid_form(USD), expense_id="exp-1", base_currency=BASE, today=TODAY)


def test_form_errors_read_as_sentences() -> None:
    problems = FormErrors({"type": "Choose Payment.", "lines": "Add at least one line."})
    assert problems.errors == {"type": "Choose Payment.", "lines": "Add at least one line."}
    assert str(problems) == "Choose Payment. Add at least one line."


# --------------------------------------------------------------------------- empty lines


@pytest.mark.parametrize(
    "blank",
    [LineInput(), LineInput(account_id="", net_amount="  ", tax_amount="\t", tracking_ids=("",), invoice_to_id="")],
)
def test_a_blank_line_next_to_a_filled_one_is_ignored(blank: LineInput) -> None:
    form = valid_form(USD)
    expected = build(form).lines
    assert build(replace(form, lines=(good_line(USD), blank))).lines == expected
    assert build(replace(form, lines=(blank, good_line(USD), blank))).lines == expected


def test_messages_keep_the_line_number_of_the_form_when_a_blank_line_comes_first() -> None:
    form = replace(valid_form(USD), lines=(LineInput(), replace(good_line(USD), tax_rate_id=None)))
    assert errors_of(form) == {"line1_tax_rate": "Choose a tax rate."}


@pytest.mark.parametrize("count", [1, 3])
def test_when_every_line_is_blank_the_first_line_asks_for_its_fields(count: int) -> None:
    form = replace(valid_form(USD), lines=(LineInput(),) * count)
    assert errors_of(form) == {
        "lines": "Add at least one line.",
        "line0_account": "Choose an account.",
        "line0_tax_rate": "Choose a tax rate.",
        "line0_net": "Enter the net amount.",
        "line0_tax": "Enter the tax amount.",
    }


@pytest.mark.parametrize(
    "partial",
    [
        LineInput(tracking_ids=("trk-1",)),
        LineInput(invoice_to_id="cus-1"),
        LineInput(net_amount="5"),
        LineInput(account_id="acc-1"),
    ],
)
def test_a_line_with_anything_in_it_is_not_blank(partial: LineInput) -> None:
    form = replace(valid_form(USD), lines=(good_line(USD), partial))
    errors = errors_of(form)
    assert errors
    assert all(field.startswith("line1_") for field in errors)
