"""Receipts: from the modal, shared in a channel (both buttons), posted in an expense's thread; refusals."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sync2books.models import Attachment, Connection
from tests.support.bot import ADMIN, CHANNEL, RunningBot
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal
from tests.support.expenses import LedgerRefs
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, text_of
from tests.support.sandbox_client import SandboxClient
from tests.support.servers import ThreadedServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
PDF = b"%PDF-1.7\n% a receipt\n%%EOF\n"
LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


async def attachments_of(
    client: SandboxClient, connection: Connection, expense_id: str, count: int
) -> list[Attachment]:
    async with asyncio.timeout(20):
        while True:
            found = await client.list_attachments(connection.id, expense_id)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)


async def submit(
    bot: RunningBot, fake: FakeSlack, refs: LedgerRefs, client: SandboxClient, connection: Connection, **kw: Any
) -> str:
    before = {e.id async for b in client.iter_sync_batches(connection_id=connection.id) for e in b.expenses}
    view = kw.pop("receipt_view", None) or await open_expense_modal(bot, fake)
    sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=filled(refs, **kw), view=view)
    assert sent.status_code == 200
    async with asyncio.timeout(20):
        while True:
            now = {e.id async for b in client.iter_sync_batches(connection_id=connection.id) for e in b.expenses}
            if now - before:
                (new,) = now - before
                return new
            await asyncio.sleep(0.1)


async def shared(
    bot: RunningBot,
    files: list[str],
    *,
    event_id: str,
    thread_ts: str | None = None,
    ts: str = "1700000999.000100",
    channel: str = CHANNEL,
) -> None:
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "file_share",
        "channel": channel,
        "channel_type": "group" if channel.startswith("G") else "channel",
        "user": ADMIN,
        "ts": ts,
        "text": "",
        "files": [{"id": f} for f in files],
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    answer = await bot.sender.event(event, event_id=event_id)
    assert answer.status_code == 200


async def test_receipts_chosen_in_the_modal_are_uploaded_with_their_sha256(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    fake_slack.add_file("F0MODAL1", name="lunch.png", mimetype="image/png", content=PNG)
    fake_slack.add_file("F0MODAL2", name="invoice.pdf", mimetype="application/pdf", content=PDF)
    expense_id = await submit(bot, fake_slack, refs, client, connection, files=("F0MODAL1", "F0MODAL2"))
    found = await attachments_of(client, connection, expense_id, 2)
    assert {(a.file_name, a.sha256, a.size) for a in found} == {
        ("lunch.png", hashlib.sha256(PNG).hexdigest(), len(PNG)),
        ("invoice.pdf", hashlib.sha256(PDF).hexdigest(), len(PDF)),
    }


async def test_a_shared_file_gets_both_buttons_and_each_one_works(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    fake_slack.add_file("F0SHARED", name="taxi.pdf", mimetype="application/pdf", content=PDF)
    await shared(bot, ["F0SHARED"], event_id="Ev0SHARE1")
    offers = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("thread_ts") == "1700000999.000100"
    )
    offer = offers[0].params
    assert "Use *taxi.pdf* as a receipt?" in text_of(offer)
    assert "New expense from this receipt" in text_of(offer)
    assert "Attach to an expense" in text_of(offer)

    # New expense from this receipt: the modal opens with the file, and the expense gets it.
    opened = len(fake_slack.calls_to("views.open"))
    await bot.sender.action(user_id=ADMIN, action_id="receipt_new_expense", value="F0SHARED", channel_id=CHANNEL)
    view = dict((await fake_slack.wait_for("views.open", count=opened + 1))[-1].params["view"])
    view["id"] = "V0RECEIPT1"
    assert json.loads(view["private_metadata"])["receipt_file_ids"] == ["F0SHARED"]
    assert "1 receipt(s) from Slack attached" in text_of(view)
    first = await submit(bot, fake_slack, refs, client, connection, receipt_view=view)
    (attached,) = await attachments_of(client, connection, first, 1)
    assert attached.sha256 == hashlib.sha256(PDF).hexdigest()

    # Attach to an expense: pick one of yours, and it is attached there (once, however often it is asked).
    second = await submit(bot, fake_slack, refs, client, connection, merchant="Second")
    fake_slack.add_file("F0SHARED2", name="hotel.png", mimetype="image/png", content=PNG)
    opened = len(fake_slack.calls_to("views.open"))
    await bot.sender.action(user_id=ADMIN, action_id="receipt_attach", value="F0SHARED2", channel_id=CHANNEL)
    picker = (await fake_slack.wait_for("views.open", count=opened + 1))[-1].params["view"]
    choices = picker["blocks"][0]["element"]["options"]
    assert {c["value"] for c in choices} >= {first, second}
    for _ in range(2):
        await bot.sender.submit_view(
            user_id=ADMIN,
            callback_id="attach_receipt",
            private_metadata=picker["private_metadata"],
            values={"expense": {"value": {"type": "static_select", "selected_option": {"value": second}}}},
        )
    (on_second,) = await attachments_of(client, connection, second, 1)
    assert on_second.file_name == "hotel.png"
    await asyncio.sleep(2.5)
    assert len(await client.list_attachments(connection.id, second)) == 1


async def test_a_receipt_in_a_private_channel_is_offered_and_attached_as_in_a_public_one(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    """message.groups brings files shared in private channels the bot is in; they are handled the same way."""
    private = "G0PRIVATE"
    fake_slack.add_channel(private, name="acme-private")
    fake_slack.add_membership(ADMIN, private)
    connection, refs = await company_with_xero(bot, fake_slack, client, channel=private)
    fake_slack.add_file("F0PRIV", name="private-taxi.pdf", mimetype="application/pdf", content=PDF)
    await shared(bot, ["F0PRIV"], event_id="Ev0PRIV1", channel=private)
    (offer,) = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("thread_ts") == "1700000999.000100"
    )
    assert offer.params["channel"] == private
    assert "Use *private-taxi.pdf* as a receipt?" in text_of(offer.params)

    opened = len(fake_slack.calls_to("views.open"))
    await bot.sender.action(user_id=ADMIN, action_id="receipt_new_expense", value="F0PRIV", channel_id=private)
    view = dict((await fake_slack.wait_for("views.open", count=opened + 1))[-1].params["view"])
    view["id"] = "V0PRIVATE1"
    assert json.loads(view["private_metadata"])["receipt_file_ids"] == ["F0PRIV"]
    expense_id = await submit(bot, fake_slack, refs, client, connection, receipt_view=view)
    (attached,) = await attachments_of(client, connection, expense_id, 1)
    assert attached.sha256 == hashlib.sha256(PDF).hexdigest()
    await fake_slack.wait_for(
        "chat.postMessage",
        where=lambda c: c.params.get("channel") == private and "submitted" in text_of(c.params),
        timeout=10,
    )


async def test_a_file_posted_in_an_expense_thread_is_attached_once_even_when_redelivered(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    expense_id = await submit(bot, fake_slack, refs, client, connection)
    message = await fake_slack.wait_for("chat.postMessage", where=lambda c: expense_id in text_of(c.params))
    expense_ts = next(m["ts"] for m in fake_slack.messages(CHANNEL) if expense_id in text_of(m))
    fake_slack.add_file("F0THREAD", name="parking.jpg", mimetype="image/jpeg", content=b"\xff\xd8\xff\xe0" + PNG)
    await shared(bot, ["F0THREAD"], event_id="Ev0THREAD1", thread_ts=expense_ts, ts="1700001000.000200")
    await shared(bot, ["F0THREAD"], event_id="Ev0THREAD1", thread_ts=expense_ts, ts="1700001000.000200")  # redelivered
    await shared(bot, ["F0THREAD"], event_id="Ev0THREAD2", thread_ts=expense_ts, ts="1700001000.000200")  # twice shared
    (attached,) = await attachments_of(client, connection, expense_id, 1)
    assert attached.file_name == "parking.jpg"
    await asyncio.sleep(2.5)
    assert len(await client.list_attachments(connection.id, expense_id)) == 1
    assert not [c for c in fake_slack.calls_to("chat.postMessage") if "as a receipt?" in text_of(c.params)]
    assert message


async def test_a_twelve_megabyte_file_and_an_exe_are_refused_politely(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await company_with_xero(bot, fake_slack, client)
    fake_slack.add_file("F0BIG", name="scan.pdf", mimetype="application/pdf", content=b"%PDF-", size=12 * 1024 * 1024)
    fake_slack.add_file("F0EXE", name="setup.exe", mimetype="application/x-msdownload", content=b"MZ\x90\x00")
    await shared(bot, ["F0BIG", "F0EXE"], event_id="Ev0REFUSE")
    replies = await fake_slack.wait_for(
        "chat.postMessage", count=2, where=lambda c: c.params.get("thread_ts") == "1700000999.000100"
    )
    said = [text_of(c.params) for c in replies]
    assert any("*scan.pdf* as a receipt: it is 12.0 MB and Xero takes receipts of at most 10 MB" in s for s in said)
    assert any(
        "*setup.exe* as a receipt: Xero takes only PDF, JPEG, PNG, GIF, HEIC, TIFF or WebP files" in s for s in said
    )
    assert not [
        c for c in fake_slack.calls_to("chat.postMessage") if "New expense from this receipt" in text_of(c.params)
    ]


async def test_a_sign_in_page_instead_of_the_file_is_never_uploaded_as_a_receipt(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    # What Slack serves when the token cannot download: a 200 with an HTML page, whatever the file claims to be.
    fake_slack.add_file("F0LOGIN", name="receipt.png", mimetype="image/png", content=LOGIN_PAGE)
    expense_id = await submit(bot, fake_slack, refs, client, connection, files=("F0LOGIN",))
    told = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: "I could not attach a receipt" in text_of(c.params), timeout=20
    )
    assert "sign-in page instead of the file" in text_of(told[0].params)
    assert await client.list_attachments(connection.id, expense_id) == []


class Elsewhere:
    """A second server on loopback, not Slack's: it records every request and the token it carried."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        app = Starlette(routes=[Route("/{path:path}", self._any)])
        self.server = ThreadedServer(app, "elsewhere")

    async def _any(self, request: Request) -> Response:
        self.seen.append(dict(request.headers))
        return Response(PNG, media_type="image/png")


async def test_the_bot_token_never_leaves_slack_for_a_file_host_files_info_names(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    elsewhere = Elsewhere()
    elsewhere.server.start()
    try:
        connection, refs = await company_with_xero(bot, fake_slack, client)
        fake_slack.add_file(
            "F0AWAY", name="away.png", mimetype="image/png", content=PNG, download_url=f"{elsewhere.server.url}/x.png"
        )
        fake_slack.add_file(
            "F0REDIR", name="redir.png", mimetype="image/png", content=PNG, redirect_to=f"{elsewhere.server.url}/y.png"
        )
        expense_id = await submit(bot, fake_slack, refs, client, connection, files=("F0AWAY", "F0REDIR"))
        # Each receipt is given up at once (trying again cannot help), with a word in the expense's thread.
        await fake_slack.wait_for(
            "chat.postMessage", where=lambda c: "could not attach a receipt" in text_of(c.params), count=2, timeout=20
        )
        assert await client.list_attachments(connection.id, expense_id) == []
        assert not any(BOT_TOKEN in value for headers in elsewhere.seen for value in headers.values())
        assert elsewhere.seen == []  # not even asked: the address was refused before any request
    finally:
        elsewhere.server.stop()
