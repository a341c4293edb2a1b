"""`read_receipt`: bytes of a shared file in, a ReceiptReading out; never an exception for what a user may upload."""

from __future__ import annotations

import hashlib
import io
import logging

from receipt_reading.images import ImageProblem, decode, prepare
from receipt_reading.model import MAX_BYTES, MAX_PDF_PAGES, ReceiptReading, Understanding
from receipt_reading.ocr import OcrEngine, default_engine
from receipt_reading.understand import TextLine, understand

log = logging.getLogger(__name__)

IMAGE_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/tiff", "image/gif")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".heic", ".heif", ".webp", ".tif", ".tiff", ".gif")


def _pdf_lines(data: bytes) -> list[TextLine]:
    """The text layer of a PDF, one line a line; empty for a scan without one."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ImageProblem("the PDF is password-protected")
        text = "\n".join((page.extract_text() or "") for page in list(reader.pages)[:MAX_PDF_PAGES])
    except ImageProblem:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise ImageProblem("the PDF could not be read") from error
    return [TextLine(line) for line in text.splitlines() if line.strip()]


def _kind(data: bytes, mimetype: str, filename: str) -> str:
    """ "pdf" or "image" by the bytes first (a name or a type can lie), then by what the upload said."""
    if data[:5] == b"%PDF-":
        return "pdf"
    mimetype = mimetype.lower()
    if mimetype == "application/pdf" or filename.lower().endswith(".pdf"):
        return "pdf"
    return "image"


def read_receipt(
    data: bytes,
    mimetype: str,
    filename: str,
    *,
    base_currency: str | None,
    engine: OcrEngine | None = None,
) -> ReceiptReading:
    """Read a receipt: the text layer of a PDF, or OCR of an image (JPEG, PNG, HEIC, WebP, TIFF).

    Synchronous and CPU-bound (up to a few seconds for a photo): run it in a worker thread or process. Safe to call
    from several threads at once; the OCR engine is loaded once per process on first use. `base_currency` is the
    company's, taken when the receipt prints only bare numbers. What cannot be read comes back as `problem`.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_BYTES:
        return ReceiptReading(
            sha256, "none", "", problem=f"the file is too large to read ({len(data) / 1e6:.0f} MB; at most 20 MB)"
        )
    if not data:
        return ReceiptReading(sha256, "none", "", problem="the file is empty")
    kind = _kind(data, mimetype, filename)
    try:
        if kind == "pdf":
            lines = _pdf_lines(data)
            if not lines:
                return ReceiptReading(
                    sha256, "pdf", "", problem="the PDF has no text to read (a scan without a text layer)"
                )
            source = "pdf"
        else:
            image = prepare(decode(data))
            ocr_lines = (engine or default_engine()).read_lines(image)
            lines = [TextLine(line.text, line.score, line.size) for line in ocr_lines]
            if not lines:
                return ReceiptReading(sha256, "ocr", "", problem="no text could be found in the image")
            source = "ocr"
    except ImageProblem as problem:
        return ReceiptReading(sha256, "none", "", problem=str(problem))
    except MemoryError:
        return ReceiptReading(sha256, "none", "", problem="the file is too large to read")
    except Exception:  # a reader must never take the bot down over one file; the log keeps the trace
        log.exception("reading %s (%s) failed", filename, mimetype)
        return ReceiptReading(sha256, "none", "", problem="the file could not be read")
    found: Understanding = understand(lines, base_currency=base_currency)
    return ReceiptReading(
        sha256=sha256,
        source="ocr" if source == "ocr" else "pdf",
        text="\n".join(line.text for line in lines),
        merchant=found.merchant,
        date=found.date,
        total=found.total,
        tax=found.tax,
        tax_rate=found.tax_rate,
        currency=found.currency,
    )
