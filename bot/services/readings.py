"""Reading shared receipts: started when a file is shared, done off the event loop, kept per file in the database.

The reader (``receipt_reading.read_receipt``) is synchronous and CPU-bound; it runs in the executor the
composition owns (one or two threads), so an acknowledgement to Slack never waits for it. A reading is stored
once per file, and the same bytes shared again under another file id take the stored reading instead of being
read again. A click on **New expense from this receipt** usually finds it ready; when it does not, the modal
opens at once and the caller waits here for the reading, then fills the modal in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from apiclient import wire
from bot.messages import ReceiptDuplicate, dump
from bot.ports import Files, FileUnavailable, SlackFile
from bot.services.work import WorkToSend
from money import format_money, is_known_currency, quantize
from receipt_reading import ReceiptReading
from storage.db import Database
from storage.repositories import Announcements, Expenses, ReceiptReadings
from storage.tables import OutboxExpense, ReceiptReadingRecord, utcnow

log = logging.getLogger(__name__)

# bytes, mimetype, file name, base currency -> what was read. Synchronous: it runs in the executor.
Reader = Callable[[bytes, str, str, str | None], ReceiptReading]

# How long a modal opened before its reading ended waits for it to be filled in.
WAIT_FOR_READING_SECONDS = 90.0
# Expenses of the company looked at for the same merchant, date and total.
LOOKED_AT_FOR_DUPLICATES = 500


@dataclass(frozen=True)
class DuplicateOf:
    """An expense already submitted that a receipt may be a second copy of."""

    expense_id: str
    merchant: str | None
    total: str  # formatted with its currency
    issue_date: str | None
    user_id: str
    same_bytes: bool


@dataclass(frozen=True)
class ReceiptDraft:
    """What the expense modal opened from a receipt shows: the fields read, and what to say about them."""

    file_name: str
    state: Literal["read", "reading", "unreadable"]
    problem: str | None = None
    merchant: str | None = None
    issue_date: str | None = None
    currency: str | None = None
    net: str | None = None
    tax: str | None = None
    duplicate: DuplicateOf | None = None

    def prefill(self) -> dict[str, Any]:
        """The fields read, in the shape the modal's prefill takes (keys of Fix and retry's); empty ones left out."""
        line = {key: value for key, value in (("net", self.net), ("tax", self.tax)) if value is not None}
        found: dict[str, Any] = {
            key: value
            for key, value in (
                ("merchant", self.merchant),
                ("issue_date", self.issue_date),
                ("currency", self.currency),
            )
            if value is not None
        }
        if line:
            found["lines"] = [line]
        return found


def _merchant_key(name: str | None) -> str:
    """A merchant as compared for duplicates: no case, accents, spaces or punctuation (OCR drops spaces)."""
    folded = unicodedata.normalize("NFKD", name or "").casefold()
    return re.sub(r"[\W_]+", "", "".join(c for c in folded if not unicodedata.combining(c)))


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _record(file: SlackFile, reading: ReceiptReading) -> ReceiptReadingRecord:
    currency = reading.currency.value if reading.currency else None
    if currency is not None and not is_known_currency(currency):
        currency = None
    total = reading.total.value if reading.total else None
    tax = reading.tax.value if reading.tax else None
    if total is not None and tax is not None and not Decimal(0) <= tax < total:
        tax = None  # a tax read that cannot be part of the total: the total alone is surer
    return ReceiptReadingRecord(
        file_id=file.id,
        sha256=reading.sha256,
        file_name=file.name[:300],
        merchant=reading.merchant.value.strip()[:100] if reading.merchant else None,
        issue_date=reading.date.value.isoformat() if reading.date else None,
        total=str(total) if total is not None else None,
        tax=str(tax) if tax is not None else None,
        currency=currency,
        problem=reading.problem[:300] if reading.problem else None,
        created_at=utcnow(),
    )


class ReceiptReader:
    def __init__(self, db: Database, files: Files, read: Reader, executor: Executor, work: WorkToSend) -> None:
        self._db = db
        self._files = files
        self._read = read
        self._executor = executor
        self._work = work
        self._reading: dict[str, asyncio.Task[ReceiptReadingRecord | None]] = {}

    def begin(
        self, file: SlackFile, base_currency: str | None, company_id: str | None, where: tuple[str, str] | None
    ) -> None:
        """Start reading a shared file now, in the background; ``where`` (channel, thread) hears of a duplicate."""
        if file.id in self._reading:
            return
        task = asyncio.get_running_loop().create_task(self._read_and_keep(file, base_currency, company_id, where))
        self._reading[file.id] = task
        task.add_done_callback(lambda _: self._reading.pop(file.id, None))

    async def settle(self) -> None:
        """At shutdown: readings under way stop (a file is read again when its modal asks for it)."""
        tasks = list(self._reading.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stored(self, file_id: str) -> ReceiptReadingRecord | None:
        async with self._db.session() as session:
            return await ReceiptReadings(session).get(file_id)

    async def finished(self, file_id: str, base_currency: str | None) -> ReceiptReadingRecord | None:
        """The reading of a file, waiting for it if it is under way (or starting it: a reading lost to a restart)."""
        stored = await self.stored(file_id)
        if stored is not None:
            return stored
        if file_id not in self._reading:
            try:
                file = await self._files.info(file_id)
            except FileUnavailable as exc:
                log.warning("could not look at file %s to read it (%s)", file_id, exc.reason)
                return None
            self.begin(file, base_currency, None, None)
        task = self._reading.get(file_id)
        if task is None:
            return await self.stored(file_id)
        try:
            async with asyncio.timeout(WAIT_FOR_READING_SECONDS):
                return await asyncio.shield(task)
        except TimeoutError:
            return None

    async def _read_and_keep(
        self, file: SlackFile, base_currency: str | None, company_id: str | None, where: tuple[str, str] | None
    ) -> ReceiptReadingRecord | None:
        try:
            record = await self._reading_of(file, base_currency)
            if record is not None and company_id is not None and where is not None:
                await self._tell_of_duplicate(record, company_id, *where)
            return record
        except Exception as exc:  # one file must never stop the bot; the log keeps the reason
            log.error("reading file %s failed: %s: %s", file.id, type(exc).__name__, exc)
            log.debug("details", exc_info=True)
            return None

    async def _reading_of(self, file: SlackFile, base_currency: str | None) -> ReceiptReadingRecord | None:
        stored = await self.stored(file.id)
        if stored is not None:
            return stored
        try:
            data = await self._files.download(file)
        except FileUnavailable as exc:
            log.warning("could not download file %s to read it (%s)", file.id, exc.reason)
            return None
        sha256 = hashlib.sha256(data).hexdigest()
        async with self._db.session() as session:
            same = await ReceiptReadings(session).with_bytes(sha256)
        if same is not None:
            record = ReceiptReadingRecord(
                **{**same.model_dump(), "file_id": file.id, "file_name": file.name[:300], "created_at": utcnow()}
            )
        else:
            loop = asyncio.get_running_loop()
            reading = await loop.run_in_executor(
                self._executor, self._read, data, file.mimetype, file.name, base_currency
            )
            record = _record(file, reading)
        async with self._db.session() as session:
            await ReceiptReadings(session).save(record)
        return await self.stored(file.id)

    async def duplicate_of(self, record: ReceiptReadingRecord, company_id: str) -> DuplicateOf | None:
        """An expense of the company already submitted with these bytes, or with this merchant, date and total."""
        async with self._db.session() as session:
            same_bytes = await ReceiptReadings(session).expense_with_bytes(company_id, record.sha256)
            if same_bytes is not None:
                return _duplicate(same_bytes, same_bytes=True)
            total, merchant = _decimal(record.total), _merchant_key(record.merchant)
            if total is None or not merchant or record.issue_date is None:
                return None
            recent = await Expenses(session).recent_of_company(company_id, LOOKED_AT_FOR_DUPLICATES)
        for expense in recent:
            if (
                _decimal(expense.total) == total
                and _merchant_key(expense.merchant) == merchant
                and _issue_date(expense) == record.issue_date
            ):
                return _duplicate(expense, same_bytes=False)
        return None

    async def _tell_of_duplicate(
        self, record: ReceiptReadingRecord, company_id: str, channel: str, thread: str
    ) -> None:
        duplicate = await self.duplicate_of(record, company_id)
        if duplicate is None:
            return
        note = ReceiptDuplicate(file_name=record.file_name, thread_ts=thread, **dataclasses.asdict(duplicate))
        async with self._db.session() as session:
            await Announcements(session).owe(f"{note.KIND}:{record.file_id}", channel, note.KIND, dump(note))
        self._work.announcements_owed()

    async def draft(
        self, record: ReceiptReadingRecord | None, file_name: str, company_id: str, base_currency: str
    ) -> ReceiptDraft:
        """The modal's fields from a reading (None: still being read)."""
        if record is None:
            return ReceiptDraft(file_name=file_name, state="reading")
        duplicate = await self.duplicate_of(record, company_id)
        total = _decimal(record.total)
        if record.problem is not None or (total is None and not record.merchant and not record.issue_date):
            problem = record.problem or "nothing on it looked like a merchant, a date or a total"
            return ReceiptDraft(file_name=record.file_name, state="unreadable", problem=problem, duplicate=duplicate)
        currency = record.currency or base_currency
        net = tax = None
        if total is not None:
            read_tax = _decimal(record.tax) or Decimal(0)
            net, tax = f"{quantize(total - read_tax, currency):,}", f"{quantize(read_tax, currency):,}"
        return ReceiptDraft(
            file_name=record.file_name,
            state="read",
            merchant=record.merchant,
            issue_date=record.issue_date,
            currency=record.currency,
            net=net,
            tax=tax,
            duplicate=duplicate,
        )


def _issue_date(expense: OutboxExpense) -> str | None:
    body = wire.loads(expense.body)
    value = body.get("issueDate") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _duplicate(expense: OutboxExpense, *, same_bytes: bool) -> DuplicateOf:
    return DuplicateOf(
        expense_id=expense.id,
        merchant=expense.merchant,
        total=format_money(Decimal(expense.total), expense.currency),
        issue_date=_issue_date(expense),
        user_id=expense.submitted_by,
        same_bytes=same_bytes,
    )
