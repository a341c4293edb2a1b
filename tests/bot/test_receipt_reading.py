"""Receipts that read themselves, end to end: a file shared in the company's channel is read at once (off the event
loop), and **New expense from this receipt** opens the modal filled with what was read; a slow read fills the open
modal later without touching what was typed; a possible duplicate is said in the modal and in the file's thread.

Reading is the real reader, memoised by the file's bytes across these tests (OCR costs a second or two of CPU),
behind a gate a test may hold shut to make a reading as slow as it likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

import bot.app
from receipt_reading import ReceiptReading, read_receipt
from slack_ui.expense_state import not_yet_typed
from sync2books.models import Connection
from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.expense_modal import company_with_xero, filled
from tests.support.expenses import LedgerRefs
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.receipt_corpus import make_receipt
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient

FUEL = make_receipt(6, 15, layout="fuel", currency="EUR")  # Esso Express, 2025-08-22, EUR 218.21 with 19.84 tax
FUEL_JPEG = FUEL.data
FUEL_PNG = (lambda buffer: (Image.open(io.BytesIO(FUEL.data)).save(buffer, format="PNG"), buffer.getvalue())[1])(
    io.BytesIO()
)
NOT_AN_IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20


@functools.cache
def _read(data: bytes, mimetype: str, filename: str, base_currency: str | None) -> ReceiptReading:
    return read_receipt(data, mimetype, filename, base_currency=base_currency)


class Gate:
    """Open: readings pass at once. Shut: each waits until the test opens it (a reading as slow as the test likes)."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self.read = threading.Event()

    def shut(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def reader(self) -> bot.app.Reader:
        def read(data: bytes, mimetype: str, filename: str, base_currency: str | None) -> ReceiptReading:
            assert threading.current_thread() is not threading.main_thread()
            assert self._open.wait(30)
            reading = _read(data, mimetype, filename, base_currency)
            self.read.set()
            return reading

        return read


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    gate = Gate()
    monkeypatch.setattr(bot.app, "reader", gate.reader)
    return gate


@pytest.fixture
def reading_bot(gate: Gate, fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str) -> Iterator[RunningBot]:
    with RunningBot(bot_settings(fake_slack, bot_database, sandbox.url), fake_slack) as running:
        yield running


async def share(bot: RunningBot, fake: FakeSlack, file_id: str, name: str, data: bytes, ts: str) -> dict[str, Any]:
    """A file shared in the company's channel; answers the bot's offer in its thread."""
    fake.add_file(file_id, name=name, mimetype="image/png" if name.endswith(".png") else "image/jpeg", content=data)
    event = {
        "type": "message",
        "subtype": "file_share",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": ADMIN,
        "ts": ts,
        "text": "",
        "files": [{"id": file_id}],
    }
    assert (await bot.sender.event(event, event_id=f"Ev{file_id}")).status_code == 200
    (offer,) = await fake.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("thread_ts") == ts and "as a receipt?" in text_of(c.params)
    )
    return dict(offer.params)


async def new_expense_from(bot: RunningBot, fake: FakeSlack, file_id: str) -> dict[str, Any]:
    """A click on the offer's button; answers the modal as Slack holds it then (with its id and hash)."""
    opened = len(fake.calls_to("views.open"))
    await bot.sender.action(user_id=ADMIN, action_id="receipt_new_expense", value=file_id, channel_id=CHANNEL)
    await fake.wait_for("views.open", count=opened + 1)
    return dict(fake.views()[-1])


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def initial(view: dict[str, Any], block_id: str) -> Any:
    element = block(view, block_id)["element"]
    for key in ("initial_value", "initial_date", "initial_option"):
        if key in element:
            return element[key]["value"] if key == "initial_option" else element[key]
    return None


def assert_filled_with_the_fuel_receipt(view: dict[str, Any], *, merchant: bool = True) -> None:
    assert initial(view, "issue_date") == "2025-08-22"
    assert initial(view, "currency") == "EUR"
    assert initial(view, "line0_net") == "198.37"  # 218.21 less the 19.84 tax read
    assert initial(view, "line0_tax") == "19.84"
    if merchant:
        assert initial(view, "merchant").casefold() == "esso express"


async def stored(database_url: str, file_id: str) -> None:
    """Wait until the bot has kept the reading of a file (read straight from its SQLite file)."""
    path = database_url.removeprefix("sqlite:///")

    def kept() -> bool:
        with contextlib.closing(sqlite3.connect(path)) as db:
            return db.execute("SELECT 1 FROM receipt_readings WHERE file_id = ?", (file_id,)).fetchone() is not None

    async with asyncio.timeout(20):
        while True:
            if await asyncio.to_thread(kept):
                return
            await asyncio.sleep(0.05)


async def test_a_shared_png_is_read_at_once_and_its_modal_opens_filled_with_what_was_read(
    reading_bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, gate: Gate, bot_database: str
) -> None:
    await company_with_xero(reading_bot, fake_slack, client)
    await share(reading_bot, fake_slack, "F0FUELPNG", "receipt.png", FUEL_PNG, "1700000999.000100")
    # Read as soon as it was shared, before anyone clicked (and without holding up the event's ack).
    assert await asyncio.to_thread(gate.read.wait, 30)
    await stored(bot_database, "F0FUELPNG")
    view = await new_expense_from(reading_bot, fake_slack, "F0FUELPNG")
    assert_filled_with_the_fuel_receipt(view)
    assert "Read from *receipt.png* — check before submitting." in text_of(view)
    assert "may be a duplicate" not in text_of(view)
    assert view["title"]["text"] == "New expense"
    await asyncio.sleep(0.3)
    assert fake_slack.calls_to("views.update") == []  # ready at the click: nothing to fill in later


async def test_a_slow_reading_fills_the_open_modal_later_and_keeps_what_was_typed(
    reading_bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, gate: Gate
) -> None:
    await company_with_xero(reading_bot, fake_slack, client)
    gate.shut()
    await share(reading_bot, fake_slack, "F0SLOW", "receipt.png", FUEL_PNG, "1700000999.000200")
    view = await new_expense_from(reading_bot, fake_slack, "F0SLOW")  # within the trigger's 3 s, reading or not
    assert "Reading *receipt.png*" in text_of(view)
    assert initial(view, "merchant") is None and initial(view, "line0_net") is None

    # Meanwhile the person types a merchant of their own and adds a line.
    fake_slack.type_in(view["id"], {"merchant": {"value": {"type": "plain_text_input", "value": "Esso, Zürich"}}})
    updates = len(fake_slack.calls_to("views.update"))
    await reading_bot.sender.action(user_id=ADMIN, action_id="expense_add_line", view=fake_slack.view(view["id"]))
    await fake_slack.wait_for("views.update", count=updates + 1)

    gate.open()
    (filled_in,) = await fake_slack.wait_for(
        "views.update", where=lambda c: "Read from *receipt.png*" in text_of(c.params.get("view") or {}), timeout=20
    )
    assert filled_in.params["view_id"] == view["id"]
    now = fake_slack.view(view["id"])
    assert now is not None
    assert_filled_with_the_fuel_receipt(now, merchant=False)
    assert initial(now, "merchant") is None  # theirs, not what was read
    assert now["state"]["values"]["merchant"]["value"]["value"] == "Esso, Zürich"
    assert any(b.get("block_id") == "line1_net" for b in now["blocks"])  # the line they added is still there


async def submit_the_fuel_receipt(
    bot: RunningBot, fake: FakeSlack, refs: LedgerRefs, client: SandboxClient, connection: Connection, view: Any
) -> str:
    values = filled(refs, merchant="Esso Express", net="198.37", tax="19.84", currency="EUR", rate="1.10")
    values["issue_date"] = {"value": {"type": "datepicker", "selected_date": "2025-08-22"}}
    sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
    assert sent.status_code == 200
    async with asyncio.timeout(20):
        while True:
            found = [e.id async for b in client.iter_sync_batches(connection_id=connection.id) for e in b.expenses]
            if found:
                return found[0]
            await asyncio.sleep(0.1)


async def test_a_receipt_already_submitted_is_flagged_by_its_bytes_and_by_its_merchant_date_and_total(
    reading_bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, gate: Gate, bot_database: str
) -> None:
    connection, refs = await company_with_xero(reading_bot, fake_slack, client)
    await share(reading_bot, fake_slack, "F0FIRST", "receipt.png", FUEL_PNG, "1700000999.000300")
    first = await new_expense_from(reading_bot, fake_slack, "F0FIRST")
    await submit_the_fuel_receipt(reading_bot, fake_slack, refs, client, connection, first)
    await stored(bot_database, "F0FIRST")

    # The same bytes shared again: said in its thread and in its modal, naming the expense; it may still be used.
    await share(reading_bot, fake_slack, "F0AGAIN", "receipt.png", FUEL_PNG, "1700000999.000400")
    (warning,) = await fake_slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.params.get("thread_ts") == "1700000999.000400" and "duplicate" in text_of(c.params),
        timeout=20,
    )
    said = text_of(warning.params)
    assert "the same file as *Esso Express* — €218.21 — 2025-08-22, submitted by <@UADMIN>" in said
    again = await new_expense_from(reading_bot, fake_slack, "F0AGAIN")
    assert "This may be a duplicate: it has the same file as *Esso Express*" in text_of(again)
    assert again["submit"]["text"] == "Submit"

    # Another file (the original JPEG) with the same merchant, date and total.
    await share(reading_bot, fake_slack, "F0PHOTO", "photo.jpg", FUEL_JPEG, "1700000999.000500")
    (other,) = await fake_slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.params.get("thread_ts") == "1700000999.000500" and "duplicate" in text_of(c.params),
        timeout=20,
    )
    assert "the same merchant, date and total as *Esso Express* — €218.21 — 2025-08-22" in text_of(other.params)
    photo = await new_expense_from(reading_bot, fake_slack, "F0PHOTO")
    assert "the same merchant, date and total as *Esso Express*" in text_of(photo)


async def test_an_unreadable_image_opens_an_empty_modal_that_says_so(
    reading_bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, gate: Gate
) -> None:
    await company_with_xero(reading_bot, fake_slack, client)
    await share(reading_bot, fake_slack, "F0BROKEN", "scan.png", NOT_AN_IMAGE, "1700000999.000600")
    view = await new_expense_from(reading_bot, fake_slack, "F0BROKEN")
    if "Reading *scan.png*" in text_of(view):
        (late,) = await fake_slack.wait_for("views.update", timeout=20)
        view = dict(late.params["view"])
    assert "I could not read *scan.png*" in text_of(view)
    assert "fill the fields in yourself" in text_of(view)
    for field in ("merchant", "line0_net", "line0_tax"):
        assert initial(view, field) is None


def test_only_what_the_person_has_not_typed_is_filled_in_late() -> None:
    read = {"merchant": "Esso", "issue_date": "2025-08-22", "currency": "EUR", "lines": [{"net": "1.00", "tax": "0"}]}

    def typed(**values: Any) -> dict[str, Any]:
        return {block_id: {action_id: element} for block_id, (action_id, element) in values.items()}

    untouched = typed(
        issue_date=("value", {"type": "datepicker", "selected_date": "2026-12-03"}),  # today: the modal's default
        currency=("expense_currency", {"type": "static_select", "selected_option": {"value": "GBP"}}),  # the base
    )
    assert not_yet_typed(read, untouched, today="2026-12-03", base_currency="GBP") == read
    theirs = typed(
        merchant=("value", {"type": "plain_text_input", "value": "Mine"}),
        issue_date=("value", {"type": "datepicker", "selected_date": "2026-11-30"}),
        currency=("expense_currency", {"type": "static_select", "selected_option": {"value": "USD"}}),
        line0_net=("value", {"type": "plain_text_input", "value": "5"}),
    )
    assert not_yet_typed(read, theirs, today="2026-12-03", base_currency="GBP") == {"lines": [{"tax": "0"}]}
