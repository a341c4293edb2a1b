"""Money rules as properties: too many decimals are refused; every valid amount round-trips exactly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from money import amount_problem, decimal_places, is_known_currency, minor_unit, quantize
from sync2books import wire
from sync2books.errors import ValidationFailedError
from sync2books.models import Expense, IntegrationKey
from tests.support.expenses import LedgerRefs, expense_data, ledger_refs
from tests.support.sandbox import SandboxServer, connect

CURRENCIES = ["USD", "GBP", "EUR", "JPY", "KRW", "BHD", "KWD", "CLP", "ISK", "TND"]


def test_minor_units_come_from_cldr() -> None:
    assert {c: minor_unit(c) for c in ("USD", "GBP", "EUR", "JPY", "KRW", "BHD", "KWD")} == {
        "USD": 2,
        "GBP": 2,
        "EUR": 2,
        "JPY": 0,
        "KRW": 0,
        "BHD": 3,
        "KWD": 3,
    }
    assert is_known_currency("USD")
    assert not is_known_currency("usd")
    assert not is_known_currency("ZZZ")


def test_the_value_is_judged_not_its_spelling() -> None:
    assert decimal_places(Decimal("12.50")) == 1
    assert decimal_places(Decimal("12.500")) == 1
    assert decimal_places(Decimal("1200")) == 0
    assert decimal_places(Decimal("1.2E+3")) == 0
    assert amount_problem(Decimal("12.500"), "USD") is None
    assert amount_problem(Decimal("1200.0"), "JPY") is None
    assert amount_problem(Decimal("1200.5"), "JPY") == "must be a whole number for JPY"
    assert amount_problem(Decimal("12.345"), "USD") == "must have at most 2 decimal places for USD"
    assert amount_problem(Decimal("1E+20"), "USD") == "must be less than 10^15"
    assert amount_problem(Decimal("NaN"), "USD") == "must be a finite number"
    assert quantize(Decimal("2.675"), "USD") == Decimal("2.68")
    assert quantize(Decimal("2.665"), "USD") == Decimal("2.66")  # banker's rounding, as ledgers do
    assert str(quantize(Decimal("1200"), "BHD")) == "1200.000"


@st.composite
def amounts(draw: st.DrawFn, *, valid: bool) -> tuple[str, Decimal]:
    """An amount and its currency: within the minor unit, or with exactly one decimal place too many."""
    currency = draw(st.sampled_from(CURRENCIES))
    places = minor_unit(currency) + (0 if valid else 1)
    units = draw(st.integers(min_value=-(10**13), max_value=10**13))
    if not valid:
        units = units * 10 + draw(st.integers(min_value=1, max_value=9))  # a last digit that is not zero
    return currency, Decimal(units).scaleb(-places)


@given(amounts(valid=False))
def test_any_amount_finer_than_its_currency_is_refused(case: tuple[str, Decimal]) -> None:
    currency, amount = case
    assert amount_problem(amount, currency) is not None


@given(amounts(valid=True))
def test_any_valid_amount_round_trips_exactly_through_json(case: tuple[str, Decimal]) -> None:
    currency, amount = case
    assert amount_problem(amount, currency) is None
    refs = LedgerRefs("a", "t", "s", "c", "b", "k", currency)
    expense = Expense.model_validate(expense_data(refs, lines=[dict(expense_data(refs)["lines"][0], netAmount=amount)]))
    assert expense.problems() == []
    text = wire.dumps(expense)
    assert f'"netAmount":{amount}'.encode() in text  # a JSON number, the same digits
    again = Expense.model_validate(wire.loads(text))
    assert again == expense
    assert again.lines[0].net_amount == amount
    assert again.lines[0].net_amount.as_tuple() == amount.as_tuple()


def test_a_float_never_becomes_money() -> None:
    refs = LedgerRefs("a", "t", "s", "c", "b", "k", "USD")
    data = expense_data(refs)
    data["lines"][0]["netAmount"] = 0.1
    with pytest.raises(ValidationError, match="never a binary float"):
        Expense.model_validate(data)
    assert wire.loads("0.1") == Decimal("0.1")
    assert isinstance(wire.loads('{"a": 1.10}')["a"], Decimal)


# --------------------------------------------------------------------------- the same properties at the sandbox


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with SandboxServer(Path(tmp_path_factory.mktemp("money")) / "sandbox.sqlite3") as server:
        yield server


@pytest.fixture(scope="module")
def usd_connection(shared_sandbox: SandboxServer) -> tuple[str, LedgerRefs]:
    async def setup() -> tuple[str, LedgerRefs]:
        async with shared_sandbox.client() as client:
            company = await client.create_company("Property Co")
            connection = await connect(client, company, IntegrationKey.QUICKBOOKS)
            return connection.id, await ledger_refs(client, connection)

    return asyncio.run(setup())


HTTP_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@HTTP_SETTINGS
@given(amounts(valid=False))
def test_the_sandbox_refuses_any_amount_finer_than_its_currency(
    shared_sandbox: SandboxServer, usd_connection: tuple[str, LedgerRefs], case: tuple[str, Decimal]
) -> None:
    connection_id, refs = usd_connection
    currency, amount = case
    data = expense_data(refs, currency=currency, currencyRate=Decimal(1))
    data["lines"][0]["taxAmount"] = amount

    async def post() -> ValidationFailedError:
        async with shared_sandbox.client() as client:
            with pytest.raises(ValidationFailedError) as refused:
                await client.request("POST", f"/expenses/{connection_id}", idempotent=True, json=[data])
            with pytest.raises(Exception, match="404"):
                await client.get_expense(connection_id, data["id"])
            return refused.value

    refused = asyncio.run(post())
    fields = [d.field for d in refused.details]
    assert "[0].lines[0].taxAmount" in fields


@HTTP_SETTINGS
@given(amounts(valid=True))
def test_the_sandbox_stores_any_valid_amount_exactly(
    shared_sandbox: SandboxServer, usd_connection: tuple[str, LedgerRefs], case: tuple[str, Decimal]
) -> None:
    connection_id, refs = usd_connection
    currency, amount = case
    data = expense_data(refs, currency=currency, currencyRate=Decimal("1.5"))
    data["lines"][0].update(netAmount=amount, taxAmount=abs(amount))
    expense = Expense.model_validate(data)

    async def round_trip() -> Expense | None:
        async with shared_sandbox.client() as client:
            await client.create_expenses(connection_id, [expense])
            return (await client.get_expense(connection_id, expense.id)).expense

    stored = asyncio.run(round_trip())
    assert stored == expense
    assert stored is not None and stored.lines[0].net_amount == amount
