"""Money rules both services share: decimals only, never more places than the currency's minor unit.

The minor unit of each currency comes from Babel's CLDR data (ISO 4217 digits), so a currency
that changes its minor unit is fixed by upgrading Babel, not by editing a table here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Annotated, Any

from babel.numbers import format_currency, get_currency_precision, list_currencies
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# Larger than any real expense; stops absurd numbers (1e400) before they reach a ledger.
MAX_INTEGER_DIGITS = 15


@lru_cache(maxsize=1)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def is_known_currency(code: str) -> bool:
    """True for an upper-case ISO 4217 code that CLDR knows."""
    return code.isupper() and len(code) == 3 and code in _known_currencies()


def minor_unit(currency: str) -> int:
    """Decimal places the currency allows: 2 for USD, 0 for JPY, 3 for BHD."""
    return int(get_currency_precision(currency))


def decimal_places(amount: Decimal) -> int:
    """Significant decimal places of a value: 12.50 has 1, 12.345 has 3, 1200 has 0.

    The value is judged, not its spelling, so "12.50" and "12.500" are the same USD amount.
    """
    if not amount.is_finite():
        raise ValueError("not a finite number")
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def integer_digits(amount: Decimal) -> int:
    if amount.is_zero():
        return 1
    return max(1, amount.adjusted() + 1)


def amount_problem(amount: Decimal, currency: str) -> str | None:
    """Why an amount is not valid in a currency, in plain words, or None when it is."""
    if not amount.is_finite():
        return "must be a finite number"
    if integer_digits(amount) > MAX_INTEGER_DIGITS:
        return f"must be less than 10^{MAX_INTEGER_DIGITS}"
    places = minor_unit(currency)
    if decimal_places(amount) > places:
        if places == 0:
            return f"must be a whole number for {currency}"
        return f"must have at most {places} decimal places for {currency}"
    return None


def quantize(amount: Decimal, currency: str) -> Decimal:
    """The amount at exactly the currency's minor unit (banker's rounding, as ledgers do)."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_EVEN)


def format_money(amount: Decimal, currency: str, locale: str = "en_US") -> str:
    """ "$1,234.50", "¥1,200", "BHD 1.234": the amount in the currency's own format and minor unit."""
    return str(format_currency(quantize(amount, currency), currency, locale=locale))


def json_number(value: Any) -> Decimal:
    """An exact number from JSON or Python: an int or a Decimal, never a binary float, never NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        if isinstance(value, float):
            raise PydanticCustomError("float_money", "must be a Decimal, never a binary float")
        raise PydanticCustomError("not_a_number", "must be a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise PydanticCustomError("not_finite", "must be a finite number")
    return amount


# An amount in a pydantic model: a float handed to it is refused rather than rounded.
Money = Annotated[Decimal, BeforeValidator(json_number)]
