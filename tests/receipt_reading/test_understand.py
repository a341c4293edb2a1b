"""Understanding a receipt's text: each field from many formats and locales, and the lines that only look like it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from receipt_reading import CONFIDENCE_THRESHOLD, understand_text
from receipt_reading.understand import parse_number, round_to_currency

CAFE = """RECEIPT
Blue Door Coffee
12 High Street
London SW1A 1AA
Tel. +44 20 7946 0958
www.bluedoor.co.uk
14/03/2026 08:41
Flat White 3.40
Croissant 2.10
Subtotal 5.50
incl. VAT 20% 0.92
TOTAL £5.50
Cash 10.00
Change 4.50
"""


def test_a_cafe_receipt_read_whole() -> None:
    found = understand_text(CAFE)
    assert found.merchant and found.merchant.value == "Blue Door Coffee"
    assert found.date and found.date.value == date(2026, 3, 14)
    assert found.total and found.total.value == Decimal("5.50")
    assert found.tax and found.tax.value == Decimal("0.92")
    assert found.tax_rate and found.tax_rate.value == Decimal("20")
    assert found.currency and found.currency.value == "GBP"
    for field in (found.merchant, found.date, found.total, found.tax, found.currency):
        assert CONFIDENCE_THRESHOLD <= field.confidence <= 1


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1.234,56", Decimal("1234.56")),
        ("1,234.56", Decimal("1234.56")),
        ("1'234.56", Decimal("1234.56")),
        ("1 234,56", Decimal("1234.56")),
        ("12,50", Decimal("12.50")),
        ("12.5", Decimal("12.5")),
        ("1,234", Decimal("1234")),
        ("84,330", Decimal("84330")),
        ("7", Decimal("7")),
        ("12,3a", None),
    ],
)
def test_numbers_in_either_convention(raw: str, value: Decimal | None) -> None:
    assert parse_number(raw) == value


def test_amounts_are_decimals_rounded_to_the_currency_minor_unit() -> None:
    assert round_to_currency(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert round_to_currency(Decimal("12.345"), "EUR") == Decimal("12.35")
    found = understand_text("Ramen Ichiban\n2025/11/03\n合計 ¥1,280\n", base_currency="USD")
    assert found.total and found.total.value == Decimal("1280") and found.total.value.as_tuple().exponent == 0
    assert found.currency and found.currency.value == "JPY"
    assert isinstance(found.total.value, Decimal)


@pytest.mark.parametrize(
    ("printed", "currency", "expected"),
    [
        ("03/04/2026", "USD", date(2026, 3, 4)),
        ("03/04/2026", "EUR", date(2026, 4, 3)),
        ("03/04/2026", "GBP", date(2026, 4, 3)),
        ("03.04.2026", "CHF", date(2026, 4, 3)),
        ("2026/03/04", "JPY", date(2026, 3, 4)),
        ("2026年3月4日", "JPY", date(2026, 3, 4)),
        ("2026-03-04", "USD", date(2026, 3, 4)),
        ("2026-03-04", "EUR", date(2026, 3, 4)),
        ("25/12/25", "USD", date(2025, 12, 25)),  # no 25th month: day first whatever the locale
        ("12/25/2025", "EUR", date(2025, 12, 25)),
        ("Mar 4, 2026", "EUR", date(2026, 3, 4)),
        ("4 Mar 2026", "USD", date(2026, 3, 4)),
        ("4. März 2026", "EUR", date(2026, 3, 4)),
        ("14 août 2025", "EUR", date(2025, 8, 14)),
        ("6.0ct 2026", "EUR", date(2026, 10, 6)),  # OCR's zero for the O of Oct
        ("14Aug 2026", "GBP", date(2026, 8, 14)),  # OCR dropped the space
    ],
)
def test_dates_in_the_currency_locale(printed: str, currency: str, expected: date) -> None:
    code = {"USD": "$", "EUR": "€", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}[currency]
    found = understand_text(f"Shop\nDate: {printed} 12:01\nTotal {code}10\n")
    assert found.date and found.date.value == expected


def test_total_not_subtotal_tip_or_cash() -> None:
    text = """Trattoria Milano
05/17/2026
Pasta 18.00
Wine 22.00
Subtotal 40.00
Sales Tax 8.875% 3.55
Total 43.55
Tip 8.00
Grand Total $51.55
Cash 60.00
Change 8.45
"""
    found = understand_text(text)
    assert found.total and found.total.value == Decimal("51.55")
    assert found.tax and found.tax.value == Decimal("3.55")
    assert found.tax_rate and found.tax_rate.value == Decimal("8.875")
    assert found.currency and found.currency.value == "USD"


@pytest.mark.parametrize(
    ("line", "currency"),
    [
        ("TOTAL TTC 24,90 €", "EUR"),
        ("SUMME EUR 24,90", "EUR"),
        ("AMOUNT DUE $24.90", "USD"),
        ("Balance Due £24.90", "GBP"),
        ("Total CHF 24.90", "CHF"),
        ("Total Fr. 24.90", "CHF"),
        ("合計 ¥2,490", "JPY"),
        ("Grand Total US$24.90", "USD"),
    ],
)
def test_total_words_and_currency_marks(line: str, currency: str) -> None:
    found = understand_text(f"Shop\n01.02.2026\nSubtotal 20,00\n{line}\nCash 50.00\n")
    assert found.currency and found.currency.value == currency
    expected = Decimal("2490") if currency == "JPY" else Decimal("24.90")
    assert found.total and found.total.value == expected


def test_bare_numbers_take_the_base_currency() -> None:
    found = understand_text("Corner Shop\n2026-01-05\nItems 9.00\nTotal 9.00\n", base_currency="CHF")
    assert found.currency and found.currency.value == "CHF"
    assert understand_text("Corner Shop\n2026-01-05\nTotal 9.00\n").currency is None


@pytest.mark.parametrize(
    ("text", "tax", "rate", "currency"),
    [
        ("Bäckerei Sommer\n01.02.2026\nSumme 10,70\nMwSt 7% 0,70\n", "0.70", "7", "EUR"),
        ("Café de Flore\n01/02/2026\nTotal TTC 12,00\nTVA 20% 2,00\n", "2.00", "20", "EUR"),
        ("Migros\n01.02.2026\nTotal 10.81\nMWST 8.1% 0.81\n", "0.81", "8.1", "CHF"),
        ("Bondi Cafe\n01/02/2026\nTotal 11.00\nGST 10% 1.00\n", "1.00", "10", None),
        ("Deli\n02/01/2026\nSales Tax 6% 0.60\nTotal 10.60\n", "0.60", "6", "USD"),
        ("Taxi\n2025/10/30\nincl.ConsumptionTax10%  ￥772\nTOTAL  ￥8,493\n", "772", "10", "JPY"),  # glued by OCR
    ],
)
def test_tax_words_and_rates(text: str, tax: str, rate: str, currency: str | None) -> None:
    found = understand_text(text)
    assert found.tax and found.tax.value == Decimal(tax)
    assert found.tax_rate and found.tax_rate.value == Decimal(rate)
    assert (found.currency.value if found.currency else None) == currency


def test_merchant_is_not_a_header_address_phone_or_url() -> None:
    text = """TAX INVOICE
www.example.com
Tel: (415) 555-0134
221 Market St
Golden Dragon
San Francisco, CA 94103
03/04/2026
Total $12.00
"""
    found = understand_text(text)
    assert found.merchant and found.merchant.value == "Golden Dragon"


def test_ocr_glued_words_are_still_read() -> None:
    text = "GREENTAXIGENEVA\n12HighStreet\nTokyo160-0022\n2026-01-09 08:24\nSUBTOTAL 70.17\nincl.VAT20% 11.70\n"
    text += "Gratuity 7.02\nTotal 77.19\nVISA****2892\n"
    found = understand_text(text, base_currency="GBP")
    assert found.merchant and found.merchant.value == "GREENTAXIGENEVA"
    assert found.total and found.total.value == Decimal("77.19")
    assert found.tax and found.tax.value == Decimal("11.70")
    assert found.currency and found.currency.value == "GBP"


def test_no_total_word_is_no_total_rather_than_a_guess() -> None:
    found = understand_text("Some Shop\nWidget 4.00\nGadget 6.00\n")
    assert found.total is None
    assert understand_text("").merchant is None


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("Shop\nTotal 10,00\nincl. MwSt 19% 1,60\n", "EUR"),
        ("Shop\nTotal 10.00\nSales Tax 6% 0.57\n", "USD"),
        ("Shop\nTotal 1,080\nConsumption Tax 8% 80\n", "JPY"),
        ("Shop\nTotal 10.00\nincl. MWST 8.1% 0.75\n", "CHF"),
    ],
)
def test_a_currency_lost_by_ocr_is_guessed_from_the_country_conventions(text: str, currency: str) -> None:
    found = understand_text(text)
    assert found.currency and found.currency.value == currency
