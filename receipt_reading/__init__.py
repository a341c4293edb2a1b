"""Reading receipts on this machine: a PDF's text layer or OCR of a photo, then merchant, date, total, tax and
currency, each with a confidence. Self-contained: imports nothing from the bot's packages."""

from receipt_reading.model import (
    CONFIDENCE_THRESHOLD,
    MAX_BYTES,
    MAX_PIXELS,
    Field,
    ReceiptReading,
    Understanding,
)
from receipt_reading.ocr import OcrEngine, OcrLine, RapidOcrEngine
from receipt_reading.reader import read_receipt
from receipt_reading.understand import TextLine, understand, understand_text

__all__ = [
    "CONFIDENCE_THRESHOLD",
    "MAX_BYTES",
    "MAX_PIXELS",
    "Field",
    "OcrEngine",
    "OcrLine",
    "RapidOcrEngine",
    "ReceiptReading",
    "TextLine",
    "Understanding",
    "read_receipt",
    "understand",
    "understand_text",
]
