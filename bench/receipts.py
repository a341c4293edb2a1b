"""Receipt reading on generated receipts: field accuracy of ours against a naive reader, time per receipt, peak RSS.

    nice -n 10 uv run python bench/receipts.py [--count 240] [--seed 15] [--misses]

Both readers see the same text (OCR runs once per image); the naive one takes the first line as the merchant, the
largest number as the total, the first date-like string (month first), the first symbol or code as the currency
(else the base currency), and the last number on the first line mentioning tax.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from receipt_reading import ReceiptReading, read_receipt
from receipt_reading.understand import amounts_in, parse_number
from tests.support.receipt_corpus import GeneratedReceipt, Truth, make_corpus

FIELDS = ("merchant", "date", "total", "tax", "currency")


@dataclass(frozen=True)
class Guess:
    merchant: str | None
    date: date | None
    total: Decimal | None
    tax: Decimal | None
    currency: str | None


def simple(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def ours(reading: ReceiptReading) -> Guess:
    return Guess(
        reading.merchant.value if reading.merchant else None,
        reading.date.value if reading.date else None,
        reading.total.value if reading.total else None,
        reading.tax.value if reading.tax else None,
        reading.currency.value if reading.currency else None,
    )


def naive(text: str, base_currency: str) -> Guess:
    lines = [line for line in text.splitlines() if line.strip()]
    values = [a.value for line in lines for a in amounts_in(line)]
    found_date = None
    for match in re.finditer(r"(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})", text):
        a, b, c = (int(x) for x in match.groups())
        try:
            found_date = date(a, b, c) if a > 31 else date(c + 2000 if c < 100 else c, a, b)
        except ValueError:
            continue
        break
    currency = None
    for pattern, code in (("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("¥", "JPY"), ("CHF", "CHF")):
        if pattern in text:
            currency = code
            break
    tax = None
    for line in lines:
        if re.search(r"(?i)tax|vat|mwst|tva|iva", line):
            numbers = [parse_number(m) for m in re.findall(r"\d+[.,]\d{2}", line)]
            tax = numbers[-1] if numbers else None
            break
    return Guess(
        lines[0] if lines else None, found_date, max(values) if values else None, tax, currency or base_currency
    )


def right(field: str, guess: Guess, truth: Truth) -> bool:
    if field == "merchant":
        return guess.merchant is not None and simple(guess.merchant) == simple(truth.merchant)
    value = getattr(guess, field)
    return value is not None and value == getattr(truth, field)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--misses", action="store_true", help="print each receipt ours got wrong")
    args = parser.parse_args()

    started = time.perf_counter()
    corpus: list[GeneratedReceipt] = make_corpus(args.count, args.seed)
    print(f"{len(corpus)} receipts generated in {time.perf_counter() - started:.1f} s", flush=True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    timings: dict[str, list[float]] = {"image": [], "pdf": []}
    cpu: dict[str, list[float]] = {"image": [], "pdf": []}
    scores = {reader: dict.fromkeys(FIELDS, 0) for reader in ("ours", "naive")}
    first = {"image", "pdf"}
    for receipt in corpus:
        kind = "pdf" if receipt.mimetype == "application/pdf" else "image"
        began, began_cpu = time.perf_counter(), time.process_time()
        reading = read_receipt(receipt.data, receipt.mimetype, receipt.filename, base_currency=receipt.base_currency)
        elapsed, elapsed_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        if kind in first:  # the first of each loads its reader (the OCR models, pypdf): timed apart
            first.discard(kind)
            print(f"first {kind} (loads its reader): {elapsed:.2f} s", flush=True)
        else:
            timings[kind].append(elapsed)
            cpu[kind].append(elapsed_cpu)
        guesses = {"ours": ours(reading), "naive": naive(reading.text, receipt.base_currency)}
        for reader, guess in guesses.items():
            for field in FIELDS:
                scores[reader][field] += right(field, guess, receipt.truth)
        wrong = [f for f in FIELDS if not right(f, guesses["ours"], receipt.truth)]
        if args.misses and wrong:
            print(f"--- {receipt.name} wrong: {wrong}\n    truth {receipt.truth}\n    ours  {guesses['ours']}")
            print("    " + reading.text.replace("\n", "\n    "))

    count = len(corpus)
    images, pdfs = len(timings["image"]) + 1, len(timings["pdf"]) + 1
    print(f"\nfield accuracy over {count} receipts ({images} images, {pdfs} PDFs)")
    print("| field | ours | naive |\n| --- | --- | --- |")
    for field in FIELDS:
        print(f"| {field} | {scores['ours'][field] / count:.1%} | {scores['naive'][field] / count:.1%} |")
    print("\n| input | wall p50 | wall p95 | wall max | CPU p50 | CPU p95 |\n| --- | --- | --- | --- | --- | --- |")
    for kind, values in timings.items():
        print(
            f"| {kind} | {statistics.median(values):.3f} s | {percentile(values, 0.95):.3f} s | {max(values):.3f} s "
            f"| {statistics.median(cpu[kind]):.3f} s | {percentile(cpu[kind], 0.95):.3f} s |"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB with the OCR engine loaded (corpus in memory: {rss_before:.0f} MB before reading)")


if __name__ == "__main__":
    main()
