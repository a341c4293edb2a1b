"""From a receipt's text to merchant, date, total, tax and currency, each with a confidence.

Works on lines (OCR output grouped into printed lines, or a PDF's text layer). OCR of a photo often drops spaces
("incl.VAT20%") and currency symbols, so every pattern here tolerates missing spaces, and currency falls back on the
tax words, rates and number formats that a country prints when no symbol or code survived.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

from babel.numbers import get_currency_precision

from receipt_reading.model import CONFIDENCE_THRESHOLD, Field, Understanding

T = TypeVar("T")


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float = 1.0  # how sure the OCR engine was of this line's characters
    size: float = 0.0  # printed size where known (OCR: pixels a character); 0 where not (a PDF's text layer)


# --- amounts -----------------------------------------------------------------------------------------------------

SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "円": "JPY", "CHF": "CHF", "Fr.": "CHF"}
CODES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "NZD", "SGD", "HKD")
_NUMBER = r"\d{1,3}(?:[.,' ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
AMOUNT_RE = re.compile(rf"(?<![\d%'])(?<!\d[.,])(-)?({_NUMBER})(?![\d%]|[.,]\d|\s?%)")
PERCENT_RE = re.compile(r"(\d{1,2}(?:[.,]\d{1,3})?)\s?%")


def minor_unit(currency: str | None) -> int:
    try:
        return int(get_currency_precision(currency)) if currency else 2
    except (KeyError, ValueError):
        return 2


def round_to_currency(value: Decimal, currency: str | None) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def parse_number(raw: str, decimals: int = 2) -> Decimal | None:
    """ "1.234,56", "1,234.56", "1'234.56", "1 234,56", "12,50", "1,234" (thousands) → Decimal; None if not one."""
    raw = raw.strip()
    last_dot, last_comma = raw.rfind("."), raw.rfind(",")
    separator_at = max(last_dot, last_comma)
    digits_after = len(raw) - separator_at - 1 if separator_at >= 0 else 0
    # Three digits after the last separator are thousands ("1,234"), unless three decimals are asked for (a rate).
    is_decimal = separator_at >= 0 and (digits_after in (1, 2) or (digits_after == 3 and decimals == 3))
    whole = raw[:separator_at] if is_decimal else raw
    frac = raw[separator_at + 1 :] if is_decimal else ""
    whole = re.sub(r"[.,' ]", "", whole)
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    try:
        return Decimal(f"{whole}.{frac}" if frac else whole)
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class Amount:
    value: Decimal
    start: int
    end: int
    has_decimals: bool
    comma_decimal: bool


def amounts_in(text: str) -> list[Amount]:
    found = []
    for match in AMOUNT_RE.finditer(text):
        raw = match.group(2)
        if " " in raw and not re.search(r"[.,]\d{1,2}$", raw):
            continue  # "12 345" without decimals is more likely two numbers than one
        value = parse_number(raw)
        if value is None:
            continue
        if match.group(1):
            value = -value
        has_decimals = bool(re.search(r"[.,]\d{1,2}$", raw))
        found.append(Amount(value, match.start(), match.end(), has_decimals, has_decimals and raw[-3:-2] == ","))
    return found


def normalize(text: str) -> str:
    """NFKC (fullwidth ￥ and digits become plain), with the look-alikes OCR puts into amounts straightened out."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("€", "€").replace("，", ",").replace("：", ":")


def fold(text: str, *, spaces: bool = False) -> str:
    """Lower case without accents (and without spaces unless asked): how keywords are matched whatever OCR did to
    the spacing."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and (spaces or not ch.isspace()))


@dataclass(frozen=True)
class Folded:
    """A line as keywords see it: long keywords anywhere in it without spaces, short ones only as words."""

    glued: str
    spaced: str

    @classmethod
    def of(cls, text: str) -> Folded:
        return cls(fold(text), fold(text, spaces=True))

    def __contains__(self, word: str) -> bool:
        word = word.replace(" ", "")
        if len(word) >= 5 or not word.isascii():
            return word in self.glued
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", self.spaced) is not None


# --- keywords ----------------------------------------------------------------------------------------------------

# (folded keyword, strength): the strongest wins; among equals, the later line (a total after a tip).
TOTAL_WORDS = (
    ("grandtotal", 1.0),
    ("totalttc", 1.0),
    ("amountdue", 1.0),
    ("balancedue", 1.0),
    ("totaldue", 1.0),
    ("ordertotal", 1.0),
    ("totalamount", 0.95),
    ("netapayer", 1.0),
    ("apayer", 0.9),
    ("zuzahlen", 0.95),
    ("gesamtbetrag", 0.95),
    ("総合計", 1.0),
    ("合計", 0.95),
    ("summe", 0.9),
    ("gesamt", 0.9),
    ("totale", 0.9),
    ("importe", 0.85),
    ("total", 0.9),
    ("montant", 0.8),
    ("betrag", 0.8),
)
NOT_TOTAL_WORDS = (
    "subtotal",
    "sub-total",
    "soustotal",
    "sous-total",
    "zwischensumme",
    "小計",
    "totalht",
    "totalexcl",
    "totalnet",
    "nettotal",
    "totalitems",
    "totalqty",
    "totaltax",
    "taxtotal",
    "totalsaving",
    "totaldiscount",
)
PAYMENT_WORDS = (
    "cash",
    "tendered",
    "change",
    "rendu",
    "monnaie",
    "ruckgeld",
    "wechselgeld",
    "gegeben",
    "espece",
    "お預",
    "お釣",
    "釣銭",
    "visa",
    "mastercard",
    "amex",
    "card",
    "karte",
    "carte",
)
TIP_WORDS = ("tip", "gratuity", "trinkgeld", "pourboire", "service")
TAX_WORDS = (
    "salestax",
    "consumptiontax",
    "valueaddedtax",
    "vat",
    "gst",
    "hst",
    "pst",
    "tva",
    "mwst",
    "ust",
    "iva",
    "btw",
    "moms",
    "消費税",
    "内税",
    "tax",
    "steuer",
)
NOT_TAX_WORDS = ("taxinvoice", "vatno", "vatreg", "vatnumber", "taxid", "uid", "tva intra", "excl", "beforetax")


def _strength(folded: Folded, words: Iterable[tuple[str, float]]) -> float:
    return max((weight for word, weight in words if word in folded), default=0.0)


def _has(folded: Folded, words: Iterable[str]) -> bool:
    return any(word in folded for word in words)


def _money_amounts(text: str) -> list[Amount]:
    """Amounts on a line other than percentages, quantities ("2 x") and card digits."""
    text = re.sub(r"\*+\s?\d+", "", text)  # ****1234
    text = re.sub(r"\b\d+\s?[x×]\s?", "", text)  # 2 x Flat White
    return [amount for amount in amounts_in(text) if amount.value >= 0]


# --- currency ----------------------------------------------------------------------------------------------------


def _explicit_currencies(text: str) -> list[str]:
    found: list[str] = []
    for code in CODES:
        if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", text):
            found.append(code)
    if re.search(r"(?<![A-Za-z])Fr\.\s?\d", text) or re.search(r"\bSFr\b", text):
        found.append("CHF")
    for symbol, code in (("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("円", "JPY")):
        if symbol in text:
            found.append(code)
    if re.search(r"(?<![A-Za-z])(?:US)?\$\s?\d", text):
        found.append("USD")
    return found


def _guess_currency(
    folded_text: Folded, rates: list[Decimal], comma_decimals: int, dot_decimals: int, whole: int
) -> tuple[str, ...]:
    """No symbol or code survived: the currencies the tax words, rates and number format point to, likeliest first
    (none when they say nothing)."""
    if "salestax" in folded_text:
        return ("USD",)
    if "consumptiontax" in folded_text or "消費税" in folded_text:
        return ("JPY",)
    swiss_rates = {Decimal("8.1"), Decimal("2.6"), Decimal("3.8"), Decimal("7.7"), Decimal("2.5"), Decimal("3.7")}
    swiss = any(rate in swiss_rates for rate in rates)
    if ("mwst" in folded_text or "tva" in folded_text) and swiss:
        return ("CHF",)
    if any(word in folded_text for word in ("mwst", "tva", "iva", "ust", "btw")):
        return ("EUR", "CHF")
    if "vat" in folded_text:
        return ("EUR", "GBP") if comma_decimals > dot_decimals else ("GBP", "EUR")
    if comma_decimals > dot_decimals:
        return ("EUR", "CHF")
    if whole and not comma_decimals and not dot_decimals:
        return ("JPY",)
    return ()


# --- dates -------------------------------------------------------------------------------------------------------

MONTH_NAMES = {
    "jan": 1,
    "janv": 1,
    "januar": 1,
    "feb": 2,
    "fev": 2,
    "fevr": 2,
    "februar": 2,
    "mar": 3,
    "mars": 3,
    "marz": 3,
    "maerz": 3,
    "apr": 4,
    "avr": 4,
    "avril": 4,
    "may": 5,
    "mai": 5,
    "jun": 6,
    "juin": 6,
    "juni": 6,
    "jul": 7,
    "juil": 7,
    "juli": 7,
    "aug": 8,
    "aout": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "okt": 10,
    "nov": 11,
    "dec": 12,
    "dez": 12,
}
_MONTH = r"([A-Za-zÀ-ÿ0][A-Za-zÀ-ÿ]{2,8})\.?"  # "0ct": OCR reads the O of Oct as a zero
DATE_PATTERNS = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})\s?年\s?(\d{1,2})\s?月\s?(\d{1,2})\s?日")),
    ("ymd", re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")),
    ("numeric", re.compile(r"(?<![\d.,])(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?![\d%]|[.,]\d)")),
    ("dmy-name", re.compile(rf"(?<!\d)(\d{{1,2}})\.?\s?{_MONTH}\s?,?\s?(\d{{4}}|\d{{2}})(?!\d)")),
    ("mdy-name", re.compile(rf"{_MONTH}\s?(\d{{1,2}})(?:st|nd|rd|th)?,?\s?(\d{{4}})(?!\d)")),
)
ORDER_BY_CURRENCY = {"USD": "mdy", "CAD": "mdy", "JPY": "ymd"}


def _month(name: str) -> int | None:
    folded = fold(name).replace("0", "o")
    return MONTH_NAMES.get(folded) or MONTH_NAMES.get(folded[:4]) or MONTH_NAMES.get(folded[:3])


def _make_date(year: int, month: int, day: int) -> date | None:
    if year < 100:
        year += 2000
    if not 2000 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def dates_in(text: str, currency: str | None) -> list[tuple[date, float, int]]:
    """Every date on a line, with how sure the reading of its order is, and where it stands."""
    found: list[tuple[date, float, int]] = []
    taken: list[range] = []
    for kind, pattern in DATE_PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() in span for span in taken):
                continue
            a, b, c = match.groups()
            confidence = 0.95
            parsed: date | None = None
            if kind == "ymd":
                parsed = _make_date(int(a), int(b), int(c))
            elif kind == "dmy-name":
                month = _month(b)
                parsed = _make_date(int(c), month, int(a)) if month else None
            elif kind == "mdy-name":
                month = _month(a)
                parsed = _make_date(int(c), month, int(b)) if month else None
            else:
                first, second, year = int(a), int(b), int(c)
                order = ORDER_BY_CURRENCY.get(currency or "", "dmy")
                if first > 12 >= second:
                    order = "dmy"
                elif second > 12 >= first:
                    order = "mdy"
                elif first != second:
                    confidence = 0.85 if currency else 0.6  # the locale decides 03/04
                parsed = _make_date(year, first, second) if order in ("mdy", "ymd") else _make_date(year, second, first)
            if parsed:
                found.append((parsed, confidence, match.start()))
                taken.append(range(match.start(), match.end()))
    return found


# --- merchant ----------------------------------------------------------------------------------------------------

HEADER_WORDS = {
    "receipt",
    "salesreceipt",
    "taxinvoice",
    "invoice",
    "simplifiedtaxinvoice",
    "customercopy",
    "merchantcopy",
    "copy",
    "duplicate",
    "welcome",
    "welcometo",
    "quittung",
    "kassenbon",
    "beleg",
    "rechnung",
    "facture",
    "recu",
    "ticket",
    "領収書",
    "レシート",
    "orderconfirmation",
    "folio",
    "guestfolio",
    "thankyou",
}
STREET_RE = re.compile(
    r"(?i)(street|road|avenue|boulevard|strasse|straße|gasse|allee|chaussee)"
    r"|\d\s?[A-Za-zÀ-ÿ' ]*\b(st|rd|ave|blvd|ln|dr|sq|way|lane|drive|place|square)\b\.?"
    r"|(str\.|weg|platz)\s?\d"
    r"|\b(rue|via|calle|avenida|chemin)\b"
)
POSTCODE_RE = re.compile(
    r"^\d{4,5}\s?[A-Za-zÀ-ÿ]"  # 8001 Zürich, 75001 Paris
    r"|\b[A-Z]{2}\s?\d{5}\b"  # CA 94103
    r"|\b\d{3}-\d{4}\b"  # 160-0022
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"  # SW1A 1AA
)
CONTACT_RE = re.compile(
    r"(?i)\b(tel|phone|fax|ph)\b|\+\d|\(\d{3}\)|www\.|https?:|\.com\b|\.de\b|\.co\.uk\b|@|\b\d{3}[ -]\d{3,4}[ -]\d{4}\b"
)


def _merchant_candidate(text: str) -> bool:
    folded = Folded.of(text)
    letters = sum(ch.isalpha() for ch in text)
    if letters < 2 or letters < 0.5 * len(folded.glued):
        return False
    if re.sub(r"[^\w]", "", folded.glued) in HEADER_WORDS:
        return False
    if CONTACT_RE.search(text) or STREET_RE.search(text) or POSTCODE_RE.search(text):
        return False
    if re.match(r"^\d", text.strip()) and not re.match(r"^\d+[-&]?[A-Za-z]", text.strip()):
        return False  # 1-2-3 Shinjuku; 7-Eleven stays
    if dates_in(text, None) or (_has(folded, [w for w, _ in TOTAL_WORDS]) and amounts_in(text)):
        return False
    return not re.search(r"(?i)\b(order|folio|date|datum|table|tisch|cashier|server|kasse)\b", text)


def _clean_merchant(text: str) -> str:
    text = re.sub(r"^(?i:welcome to)\s+", "", text.strip())
    return re.sub(r"\s{2,}", " ", text).strip(" -*=:")


# --- the whole ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    value: Decimal
    confidence: float
    line: int


def _keep(field: Field[T] | None) -> Field[T] | None:
    """The field, or None when the reader is not sure enough of it."""
    return field if field is not None and field.confidence >= CONFIDENCE_THRESHOLD else None


def understand(lines: Sequence[TextLine], *, base_currency: str | None = None) -> Understanding:
    """The fields a receipt's lines show. `base_currency` is the company's: taken when only bare numbers are printed."""
    lines = [TextLine(normalize(line.text), line.score, line.size) for line in lines if line.text.strip()]
    folded_lines = [Folded.of(line.text) for line in lines]
    all_text = "\n".join(line.text for line in lines)
    folded_all = Folded.of(all_text)

    # Currency first: it decides how dates and amounts are read.
    explicit = _explicit_currencies(all_text)
    rates = [
        value
        for line in lines
        for match in PERCENT_RE.finditer(line.text)
        if (value := parse_number(match.group(1), decimals=3))
    ]
    line_amounts = [_money_amounts(PERCENT_RE.sub(" ", line.text)) for line in lines]
    every = [amount for amounts in line_amounts for amount in amounts]
    comma = sum(a.comma_decimal for a in every)
    dot = sum(a.has_decimals and not a.comma_decimal for a in every)
    whole = sum(not a.has_decimals for a in every)
    currency: Field[str] | None
    if explicit:
        best = max(set(explicit), key=explicit.count)
        currency = Field(best, 0.95 if explicit.count(best) > len(explicit) / 2 else 0.7)
    elif guesses := _guess_currency(folded_all, rates, comma, dot, whole):
        home = (base_currency or "").upper()
        currency = Field(guesses[0], 0.9 if guesses[0] == home else 0.7 if len(guesses) == 1 else 0.6)
    elif base_currency:
        currency = Field(base_currency.upper(), 0.75)
    else:
        currency = None
    code = currency.value if currency else None

    # Total: the amount beside the strongest total word, not a subtotal, payment or tip line.
    candidates: list[tuple[float, int, Decimal]] = []
    for index, (line, folded) in enumerate(zip(lines, folded_lines, strict=True)):
        strength = _strength(folded, TOTAL_WORDS)
        if not strength or _has(folded, NOT_TOTAL_WORDS) or _has(folded, PAYMENT_WORDS) or _has(folded, TIP_WORDS):
            continue
        amounts = line_amounts[index]
        if not amounts and index + 1 < len(lines) and not _strength(folded_lines[index + 1], TOTAL_WORDS):
            amounts = line_amounts[index + 1]  # the amount printed below its label
        if amounts:
            candidates.append((strength * line.score, index, amounts[-1].value))
    total: _Found | None = None
    if candidates:
        strength, index, value = max(candidates, key=lambda c: (round(c[0], 2), c[1]))
        total = _Found(value, min(0.97, strength), index)
    else:
        payment = {i for i, f in enumerate(folded_lines) if _has(f, PAYMENT_WORDS)}
        pool = [(a.value, i) for i, amounts in enumerate(line_amounts) if i not in payment for a in amounts]
        if pool:
            value, index = max(pool)
            total = _Found(value, 0.4, index)  # a guess, kept below the threshold

    # Subtotal (for the consistency checks below).
    subtotals = [
        line_amounts[i][-1].value
        for i, f in enumerate(folded_lines)
        if _has(f, ("subtotal", "sub-total", "zwischensumme", "soustotal", "小計")) and line_amounts[i]
    ]

    # Tax: the amount on a tax line, and its rate.
    tax: _Found | None = None
    tax_rate: Field[Decimal] | None = None
    for index, folded in enumerate(folded_lines):
        if not _has(folded, TAX_WORDS) or _has(folded, NOT_TAX_WORDS):
            continue
        if _strength(folded, TOTAL_WORDS) and not _has(folded, ("incl", "inkl", "dont", "davon", "内")):
            continue
        rate_match = PERCENT_RE.search(lines[index].text)
        amounts = line_amounts[index]
        if not amounts:
            continue
        value = amounts[-1].value
        confidence = 0.8 * lines[index].score
        rate = parse_number(rate_match.group(1), decimals=3) if rate_match else None
        if total and value >= total.value and total.value > 0:
            continue
        if rate is not None and total:
            base = subtotals[-1] if subtotals else total.value
            expected = (base * rate / 100, total.value * rate / (100 + rate), base * rate / (100 + rate))
            tolerance = Decimal(1) if code == "JPY" else Decimal("0.02")
            if any(abs(value - round_to_currency(e, code)) <= tolerance for e in expected):
                confidence = min(0.97, confidence + 0.15)
        if tax is None or confidence > tax.confidence:
            tax = _Found(value, confidence, index)
            if rate is not None and Decimal(0) < rate < 100:
                tax_rate = Field(rate.normalize() if rate == rate.to_integral() else rate, confidence)

    if total and subtotals and total.value >= subtotals[-1]:
        total = _Found(total.value, min(0.98, total.confidence + 0.03), total.line)
    elif total and subtotals and total.value < subtotals[-1]:
        total = _Found(total.value, total.confidence * 0.7, total.line)

    # Date: the first plausible date, preferring one on a line that says it is the date.
    found_dates: list[tuple[float, int, date]] = []
    for index, (line, folded) in enumerate(zip(lines, folded_lines, strict=True)):
        for value_date, confidence, _position in dates_in(line.text, code):
            if _has(folded, ("valid", "expir", "gultig", "due", "checkout", "departure")):
                confidence *= 0.6
            if _has(folded, ("date", "datum", "fecha", "日付")):
                confidence = min(0.98, confidence + 0.03)
            found_dates.append((confidence * line.score, -index, value_date))
    when = max(found_dates) if found_dates else None

    # Merchant: the most prominent candidate among the first lines.
    # Only the head counts: the lines above the first one with a date or a price.
    head_end = next(
        (
            i
            for i, line in enumerate(lines)
            if dates_in(line.text, None) or any(a.has_decimals for a in line_amounts[i])
        ),
        len(lines),
    )
    top = [(i, line) for i, line in enumerate(lines[: min(8, max(head_end, 1))]) if _merchant_candidate(line.text)]
    merchant: Field[str] | None = None
    if top:
        heights = [line.size for line in lines if line.size]
        typical = sorted(heights)[len(heights) // 2] if heights else 0.0
        first_index, first = top[0]
        chosen_index, chosen = first_index, first
        if typical:
            tallest_index, tallest = max(top[:4], key=lambda item: (item[1].size, -item[0]))
            if tallest.size >= 1.15 * typical:
                chosen_index, chosen = tallest_index, tallest
        prominent = bool(typical) and chosen.size >= 1.15 * typical
        position = 0.92 if chosen_index <= 2 else 0.8 if chosen_index <= 4 else 0.6
        confidence = min(0.97, (position + (0.05 if prominent else 0.0)) * max(0.5, chosen.score))
        name = _clean_merchant(chosen.text)
        if name:
            merchant = Field(name, confidence)

    def money(found: _Found | None) -> Field[Decimal] | None:
        if found is None:
            return None
        return Field(round_to_currency(found.value, code), round(found.confidence, 3))

    return Understanding(
        merchant=_keep(merchant),
        date=_keep(Field(when[2], round(when[0], 3)) if when else None),
        total=_keep(money(total)),
        tax=_keep(money(tax)),
        tax_rate=_keep(tax_rate),
        currency=_keep(currency),
    )


def understand_text(text: str, *, base_currency: str | None = None) -> Understanding:
    """`understand` for plain text, one printed line a line."""
    return understand([TextLine(line) for line in text.splitlines()], base_currency=base_currency)
