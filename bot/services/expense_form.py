"""The expense modal: what people typed, checked all at once and turned into the API's ``Expense``.

Every message is shown inside the Slack modal next to its field, so it is a short plain sentence a
finance person can act on. Money stays ``Decimal`` from the text typed to the model built; amounts are
read by Babel's CLDR-driven parser rather than a hand-written one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from babel.numbers import NumberFormatError, get_currency_symbol, list_currencies, parse_decimal

from bot.backend import (
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
from bot.services.text import control_character_problem
from money import MAX_INTEGER_DIGITS, decimal_places, integer_digits, is_known_currency, minor_unit, quantize

_MAX_LINES = 100
_MAX_TRACKING = 10
_MAX_MERCHANT = 100
_MAX_NOTES = 2000
_MAX_RATE_DECIMALS = 9
# The API's limit on any reference id; a longer one can only come from a tampered payload.
_MAX_REF_ID = 100

# Slack shows the modal in English, so amounts are read the way en_US writes them: 1,234.50.
_LOCALE = "en_US"

_TYPE_NAMES: dict[ExpenseType, str] = {
    ExpenseType.PAYMENT: "Payment",
    ExpenseType.DIRECT_COST: "Direct cost",
    ExpenseType.REFUND: "Refund",
    ExpenseType.REWARD: "Reward",
    ExpenseType.CHARGEBACK: "Chargeback",
}

# Babel alone accepts "1e5", "NaN", "Infinity", "12_000" and non-ASCII digits (it defers to Decimal),
# none of which a person means as an amount; only the characters of an en_US number reach it.
_NUMBER_CHARACTERS = re.compile(r"[+-]?[0-9.,]+")
# "$12.50", "USD 12.50", "-$12.50": a leading run of letters or symbols, then the number.
_PREFIXED = re.compile(r"([+-]?)([^\s\d+\-.,]+)\s*(.*)", re.DOTALL)
# date.fromisoformat also takes "20261120" and week dates; Slack's datepicker sends only this form.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class LineInput:
    account_id: str | None = None
    tax_rate_id: str | None = None
    net_amount: str = ""  # as typed
    tax_amount: str = ""  # as typed
    tracking_ids: tuple[str, ...] = ()  # tracking category ids
    invoice_to_id: str | None = None  # a customer id (a billable expense)


@dataclass(frozen=True)
class ExpenseInput:
    expense_type: str | None = None  # "Payment" or "DirectCost"
    issue_date: str | None = None  # "YYYY-MM-DD" (Slack's datepicker)
    currency: str | None = None
    currency_rate: str | None = None  # as typed
    merchant: str = ""
    contact: str | None = None  # "Supplier:<id>" or "Customer:<id>"
    bank_account_id: str | None = None
    lines: tuple[LineInput, ...] = ()
    notes: str = ""
    post_as_draft: bool = False


def line_field(index: int, name: str) -> str:
    """The field of line ``index`` (0-based) named ``name`` ("account", "tax_rate", "net", "tax", "tracking",
    "invoice_to"), as errors name it and the modal's block ids spell it."""
    return f"line{index}_{name}"


class FormErrors(Exception):
    """errors: field -> message; fields are "type", "issue_date", "currency", "currency_rate", "merchant",
    "contact", "bank_account", "notes", "lines", and per line i (0-based) ``line_field(i, name)``."""

    errors: dict[str, str]

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))


# --------------------------------------------------------------------------- amounts


def parse_amount(text: str, currency: str, label: str) -> Decimal:
    """Raises ValueError(message) with the plain sentence; answers the amount quantized to the currency's minor unit.

    ``currency`` must be an upper-case ISO 4217 code Babel knows; anything else is the caller's bug and
    raises LookupError, so that it is never shown to the user as if they had typed something wrong.
    """
    if not is_known_currency(currency):
        raise LookupError(f"unknown currency {currency!r}")
    return _parse_amount(text, currency, label)


def _number_example(places: int) -> str:
    """1,234.50 for USD, 1,234 for JPY, 1,234.500 for BHD: a number in the shape the currency expects."""
    return "1,234" + ("." + "5".ljust(places, "0") if places else "")


def _parse_amount(text: str, currency: str | None, label: str) -> Decimal:
    # currency is None when the form's currency is itself wrong: the amount is still checked for what
    # can be judged without it, so the person hears about every problem in one go.
    places = minor_unit(currency) if currency else 2
    not_a_number = f"{label} must be a number, like {_number_example(places)}"
    number = text.strip()
    prefixed = _PREFIXED.fullmatch(number)
    if prefixed:
        sign, mark, rest = prefixed.groups()
        if currency is not None and _is_mark_of(mark, currency):
            number = sign + rest
        elif _is_any_mark(mark):
            if currency is not None:
                raise ValueError(f"{label} must be in {currency}, the currency of this expense.")
            number = sign + rest
        else:
            raise ValueError(not_a_number)
    if not number:
        raise ValueError(f"Enter the {label.lower()}.")
    amount = _parse_number(number)
    if amount is None:
        raise ValueError(not_a_number)
    if integer_digits(amount) > MAX_INTEGER_DIGITS:
        raise ValueError(f"{label} is too large.")
    if currency is None:
        return amount
    if decimal_places(amount) > places:
        if places == 0:
            raise ValueError(f"{label} must be a whole number for {currency}")
        raise ValueError(f"{label} must be a number with at most {places} decimals for {currency}")
    amount = quantize(amount, currency)
    # "-0" is zero; a signed zero would reach the ledger as "-0.00".
    return abs(amount) if amount.is_zero() else amount


def _parse_number(text: str) -> Decimal | None:
    if not _NUMBER_CHARACTERS.fullmatch(text):
        return None
    try:
        amount = parse_decimal(text, locale=_LOCALE, strict=True)
    except (NumberFormatError, ArithmeticError):
        return None
    return amount if amount.is_finite() else None


@cache
def _marks(currency: str) -> frozenset[str]:
    return frozenset({currency, get_currency_symbol(currency, locale=_LOCALE)})


@cache
def _all_marks() -> frozenset[str]:
    return frozenset(mark for code in list_currencies() for mark in _marks(code))


def _is_mark_of(mark: str, currency: str) -> bool:
    return mark in _marks(currency) or mark.upper() == currency


def _is_any_mark(mark: str) -> bool:
    return mark in _all_marks() or mark.upper() in _all_marks()


def _parse_rate(text: str) -> Decimal:
    rate = _parse_number(text.strip())
    if rate is None or rate <= 0:
        raise ValueError("Exchange rate must be a positive number, like 1.2345.")
    if decimal_places(rate) > _MAX_RATE_DECIMALS:
        raise ValueError(f"Exchange rate can have at most {_MAX_RATE_DECIMALS} decimals.")
    return rate


# --------------------------------------------------------------------------- the whole form


def build_expense(
    form: ExpenseInput,
    *,
    expense_id: str,
    base_currency: str,
    allowed_types: frozenset[str] = frozenset({"Payment", "DirectCost"}),
    contact_types: frozenset[str] = frozenset({"Supplier", "Customer"}),
    today: date | None = None,
) -> Expense:
    """Every field checked; raises FormErrors listing EVERY problem at once (not the first only).

    ``expense_id`` (a UUID), ``base_currency`` and ``allowed_types`` come from the code, not the person:
    a bad one raises ValueError straight away instead of hiding behind the form's messages.
    """
    uuid.UUID(expense_id)
    allowed = _allowed(allowed_types)
    today = today or date.today()
    errors: dict[str, str] = {}

    expense_type = next((kind for kind in allowed if kind.value == form.expense_type), None)
    if expense_type is None:
        errors["type"] = f"Choose {_either(_TYPE_NAMES[kind] for kind in allowed)}."

    issue_date = _issue_date(form.issue_date, today, errors)

    code = (form.currency or "").strip().upper()
    currency = code if is_known_currency(code) else None
    if currency is None:
        errors["currency"] = "Choose a currency, like USD."

    currency_rate = _currency_rate(form.currency_rate, currency, base_currency, errors)

    merchant = form.merchant.strip()
    if len(merchant) > _MAX_MERCHANT:
        errors["merchant"] = f"Merchant can have at most {_MAX_MERCHANT} characters."
    elif problem := control_character_problem(merchant, "Merchant"):
        errors["merchant"] = problem

    contact = _contact(form.contact, contact_types, errors)

    bank_account = _given(form.bank_account_id)
    if bank_account is not None and len(bank_account) > _MAX_REF_ID:
        errors["bank_account"] = "Choose a bank account from the list."

    notes = form.notes.strip()
    if len(notes) > _MAX_NOTES:
        errors["notes"] = f"Notes can have at most {_MAX_NOTES} characters."
    elif problem := control_character_problem(notes, "Notes", multiline=True):
        errors["notes"] = problem

    lines = _lines(form.lines, currency, errors)

    if errors or expense_type is None or issue_date is None or currency is None:
        raise FormErrors(errors)
    return Expense(
        id=expense_id,
        type=expense_type,
        issue_date=issue_date,
        currency=currency,
        currency_rate=currency_rate,
        merchant_name=merchant or None,
        contact_ref=contact,
        bank_account_ref=Ref(id=bank_account) if bank_account is not None else None,
        lines=lines,
        notes=notes or None,
        post_as_draft=form.post_as_draft,
    )


def _allowed(allowed_types: frozenset[str]) -> list[ExpenseType]:
    unknown = allowed_types - {kind.value for kind in ExpenseType}
    if unknown or not allowed_types:
        raise ValueError(f"allowed_types must be a non-empty subset of the expense types, not {sorted(allowed_types)}")
    # Enum order, so the message reads the same whatever order the set iterates in.
    return [kind for kind in ExpenseType if kind.value in allowed_types]


def _either(names: Iterable[str]) -> str:
    """Names joined as people say them: "Payment", "Payment or Direct cost", "A, B or C"."""
    words = list(names)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def _given(value: str | None) -> str | None:
    """An id as Slack sent it, or None when nothing was chosen (Slack sends nothing, or an empty value)."""
    return value if value is not None and value.strip() else None


def _issue_date(text: str | None, today: date, errors: dict[str, str]) -> date | None:
    text = (text or "").strip()
    if not text:
        errors["issue_date"] = "Choose the date of the expense."
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        issue_date = date.fromisoformat(text)
    except ValueError:
        errors["issue_date"] = f"Enter a real date, like {today.isoformat()}."
        return None
    if issue_date > _a_year_after(today):
        errors["issue_date"] = "The date can't be more than a year ahead."
        return None
    return issue_date


def _a_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February: the year after has none, so the limit is 28 February
        return day + timedelta(days=365)


def _currency_rate(
    text: str | None, currency: str | None, base_currency: str, errors: dict[str, str]
) -> Decimal | None:
    text = (text or "").strip()
    if currency == base_currency:
        # The modal may still hold a rate typed before the currency was changed back; it means nothing now.
        return None
    if currency is None and not text:
        # Whether a rate is needed depends on the currency, which is wrong; its own message says so.
        return None
    if not text:
        errors["currency_rate"] = f"Enter the exchange rate from {currency} to {base_currency}."
        return None
    try:
        return _parse_rate(text)
    except ValueError as problem:
        errors["currency_rate"] = str(problem)
        return None


def _contact(value: str | None, contact_types: frozenset[str], errors: dict[str, str]) -> ContactRef | None:
    value = _given(value)
    if value is None:
        return None
    kind, _, contact_id = value.partition(":")
    known = {ContactType.SUPPLIER.value, ContactType.CUSTOMER.value} & contact_types
    if kind not in known or not 1 <= len(contact_id) <= _MAX_REF_ID:
        words = " or ".join(sorted((k.lower() for k in known), reverse=True))
        errors["contact"] = f"Choose a {words} from the list."
        return None
    return ContactRef(id=contact_id, type=ContactType(kind))


def _is_blank(line: LineInput) -> bool:
    return (
        _given(line.account_id) is None
        and _given(line.tax_rate_id) is None
        and not line.net_amount.strip()
        and not line.tax_amount.strip()
        and not any(_given(tracking_id) for tracking_id in line.tracking_ids)
        and _given(line.invoice_to_id) is None
    )


def _lines(lines: tuple[LineInput, ...], currency: str | None, errors: dict[str, str]) -> list[ExpenseLine]:
    # Indexes stay those of the form, blank lines included, so each message lands next to its own line.
    filled = [(index, line) for index, line in enumerate(lines) if not _is_blank(line)]
    if not filled:
        errors["lines"] = "Add at least one line."
        if lines:
            _line(0, lines[0], currency, errors)
        return []
    if len(filled) > _MAX_LINES:
        errors["lines"] = f"An expense can have at most {_MAX_LINES} lines."
    built = [_line(index, line, currency, errors) for index, line in filled]
    return [line for line in built if line is not None]


def _line(index: int, line: LineInput, currency: str | None, errors: dict[str, str]) -> ExpenseLine | None:
    problems: dict[str, str] = {}

    account = _given(line.account_id)
    if account is None or len(account) > _MAX_REF_ID:
        problems[line_field(index, "account")] = "Choose an account."
    tax_rate = _given(line.tax_rate_id)
    if tax_rate is None or len(tax_rate) > _MAX_REF_ID:
        problems[line_field(index, "tax_rate")] = "Choose a tax rate."

    amounts: dict[str, Decimal] = {}
    for name, text, label in (("net", line.net_amount, "Net amount"), ("tax", line.tax_amount, "Tax amount")):
        try:
            amounts[name] = _parse_amount(text, currency, label)
        except ValueError as problem:
            problems[line_field(index, name)] = str(problem)
    net, tax = amounts.get("net"), amounts.get("tax")
    if net is not None and tax is not None and net >= 0 > tax:
        problems[line_field(index, "tax")] = "Tax amount can't be negative when the net amount isn't."

    # A repeated category would be posted twice; Slack's multi-select never sends one, so drop it quietly.
    tracking_ids = list(dict.fromkeys(filter(None, map(_given, line.tracking_ids))))
    if len(tracking_ids) > _MAX_TRACKING:
        problems[line_field(index, "tracking")] = f"Choose at most {_MAX_TRACKING} tracking categories."
    elif any(len(tracking_id) > _MAX_REF_ID for tracking_id in tracking_ids):
        problems[line_field(index, "tracking")] = "Choose tracking categories from the list."

    invoice_to = _given(line.invoice_to_id)
    if invoice_to is not None and len(invoice_to) > _MAX_REF_ID:
        problems[line_field(index, "invoice_to")] = "Choose a customer from the list."

    errors.update(problems)
    if problems or account is None or tax_rate is None or net is None or tax is None:
        return None
    return ExpenseLine(
        net_amount=net,
        tax_amount=tax,
        tax_rate_ref=Ref(id=tax_rate),
        account_ref=Ref(id=account),
        tracking_refs=[
            TrackingRef(id=tracking_id, data_type=TrackingDataType.TRACKING_CATEGORIES) for tracking_id in tracking_ids
        ]
        or None,
        invoice_to=InvoiceTo(id=invoice_to) if invoice_to is not None else None,
    )
