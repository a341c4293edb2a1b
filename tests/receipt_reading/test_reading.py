"""Reading whole files: generated photos (JPEG, PNG, HEIC) and text PDFs, and what a user may upload that cannot be
read, which must come back as a problem in plain words, never an exception."""

from __future__ import annotations

import io
import struct
import unicodedata
import zlib
from concurrent.futures import ThreadPoolExecutor
from hashlib import sha256

import pytest
from PIL import Image

from receipt_reading import MAX_BYTES, ReceiptReading, read_receipt
from tests.support.receipt_corpus import GeneratedReceipt, make_receipt

SEED = 15


def simple(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def read(receipt: GeneratedReceipt) -> ReceiptReading:
    return read_receipt(receipt.data, receipt.mimetype, receipt.filename, base_currency=receipt.base_currency)


def assert_read_as_rendered(reading: ReceiptReading, receipt: GeneratedReceipt) -> None:
    truth = receipt.truth
    assert reading.problem is None, reading.problem
    assert reading.sha256 == sha256(receipt.data).hexdigest()
    assert reading.total and reading.total.value == truth.total, reading.text
    assert reading.date and reading.date.value == truth.date, reading.text
    assert reading.currency and reading.currency.value == truth.currency, reading.text
    # OCR may drop an accent ("Zum Lowen") or the spaces ("GREENTAXIGENEVA"): compared without them.
    assert reading.merchant and simple(reading.merchant.value) == simple(truth.merchant), reading.text


@pytest.mark.parametrize(
    ("index", "layout", "currency"),
    [(0, "online", "USD"), (1, "online", "EUR"), (2, "online", "JPY"), (3, "online", "CHF")],
)
def test_text_pdfs_read_from_their_text_layer(index: int, layout: str, currency: str) -> None:
    receipt = make_receipt(index, SEED, layout=layout, currency=currency)
    reading = read(receipt)
    assert reading.source == "pdf"
    assert_read_as_rendered(reading, receipt)
    assert reading.tax and reading.tax.value == receipt.truth.tax


def test_photos_read_by_ocr_side_by_side_in_threads() -> None:
    """A skewed dim JPEG, a PNG and an iPhone HEIC, read by two threads at once as the bot's worker pool will."""
    receipts = [
        make_receipt(4, SEED, layout="restaurant", currency="USD"),  # 17 % of index: JPEG or PNG by seed
        make_receipt(3, SEED, layout="cafe", currency="GBP"),  # index 3: HEIC
        make_receipt(6, SEED, layout="fuel", currency="EUR"),
    ]
    assert receipts[1].mimetype == "image/heic"
    with ThreadPoolExecutor(max_workers=2) as pool:
        readings = list(pool.map(read, receipts))
    for reading, receipt in zip(readings, receipts, strict=True):
        assert reading.source == "ocr"
        assert_read_as_rendered(reading, receipt)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` but holds a single row: the size check must come before decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1)))


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "mimetype", "filename", "problem"),
    [
        (b"", "image/jpeg", "empty.jpg", "the file is empty"),
        (b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg", "photo.jpg", "the image could not be read"),
        (jpeg_bytes()[:200], "image/jpeg", "cut.jpg", "the image could not be read"),
        (b"ftypheic" + b"\0" * 64, "image/heic", "IMG_1.HEIC", "the image could not be read"),
        (b"%PDF-1.7\n garbage", "application/pdf", "order.pdf", "the PDF could not be read"),
        (png_header_only(8000, 6000), "image/png", "huge.png", "the image is too large to read"),
        (b"\0" * (MAX_BYTES + 1), "image/jpeg", "big.jpg", "the file is too large to read"),
        (jpeg_bytes(), "image/jpeg", "blank.jpg", "no text could be found in the image"),
    ],
    ids=["empty", "not-an-image", "truncated", "bad-heic", "bad-pdf", "48-megapixels", "over-20-MB", "blank"],
)
def test_unreadable_input_is_a_problem_not_an_exception(
    data: bytes, mimetype: str, filename: str, problem: str
) -> None:
    reading = read_receipt(data, mimetype, filename, base_currency="USD")
    assert reading.problem is not None and reading.problem.startswith(problem), reading.problem
    assert reading.total is None and reading.merchant is None
    assert reading.sha256 == sha256(data).hexdigest()


def test_a_pdf_without_a_text_layer_says_so() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(buffer, format="PDF")
    reading = read_receipt(buffer.getvalue(), "application/pdf", "scan.pdf", base_currency=None)
    assert reading.problem == "the PDF has no text to read (a scan without a text layer)"
