"""What reading a receipt gives: each field with how sure the reader is of it, or None when it is not sure enough."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

# A field whose confidence falls below this is left out (None): an empty modal field is better than a wrong one.
CONFIDENCE_THRESHOLD = 0.5
# Bounds on input, checked before any decoding: a file larger than this, or an image with more pixels, is refused
# with a `problem` instead of being read.
MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
# Pages of a PDF read for text; a receipt is one or two, a longer document is read from its start.
MAX_PDF_PAGES = 5


@dataclass(frozen=True)
class Field(Generic[T]):
    value: T
    confidence: float  # in [0, 1]


@dataclass(frozen=True)
class Understanding:
    """What the text says, whatever it was read from."""

    merchant: Field[str] | None = None
    date: Field[date] | None = None
    total: Field[Decimal] | None = None
    tax: Field[Decimal] | None = None
    tax_rate: Field[Decimal] | None = None  # percent: Decimal("20") for 20 %
    currency: Field[str] | None = None  # ISO 4217 code


@dataclass(frozen=True)
class ReceiptReading:
    """One receipt read: the fields found, the file's sha256 (for spotting the same file twice), the text read, and,
    when nothing could be read, `problem` in plain words for the person who shared the file."""

    sha256: str
    source: Literal["pdf", "ocr", "none"]
    text: str
    merchant: Field[str] | None = None
    date: Field[date] | None = None
    total: Field[Decimal] | None = None
    tax: Field[Decimal] | None = None
    tax_rate: Field[Decimal] | None = None
    currency: Field[str] | None = None
    problem: str | None = None
