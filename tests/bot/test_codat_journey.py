"""The journey of PRODUCT.md with SYNC_BACKEND=codat, driven as Slack drives the bot, against the fake Codat.

Every request the bot sends Codat is checked against Codat's published spec by the fake; the fixture fails the
test if one broke it (or if the fake answered outside it).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.expense_modal import filled, open_expense_modal
from tests.support.expenses import LedgerRefs
from tests.support.fake_codat import FakeCodat, running_fake_codat
from tests.support.fake_slack import FakeSlack, text_of

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20

# The fake's seeded ledger, as a person would pick from the modal's menus.
REFS = LedgerRefs(
    account="acc-429",
    tax_rate="INPUT2",
    supplier="sup-004",
    customer="cus-002",
    bank_account="acc-091",
    tracking_category="DEPARTMENT_1",
    currency="GBP",
)


@pytest.fixture
def codat() -> Iterator[FakeCodat]:
    with running_fake_codat(processing_seconds=0.5) as fake:
        yield fake


@pytest.fixture
def codat_bot(fake_slack: FakeSlack, codat: FakeCodat, bot_database: str) -> Iterator[RunningBot]:
    settings = bot_settings(
        fake_slack,
        bot_database,
        None,
        sync_backend="codat",
        codat_api_key=codat.api_key,
        codat_api_url=codat.url,
    )
    with RunningBot(settings, fake_slack) as running:
        yield running


async def until(condition: Any, timeout: float = 20) -> Any:
    """Polls what the fakes recorded (they run in other threads; there is no event to wait on)."""
    async with asyncio.timeout(timeout):
        while True:
            found = condition()
            if found:
                return found
            await asyncio.sleep(0.1)


def expense_message(fake: FakeSlack, merchant: str) -> dict[str, Any] | None:
    return next((m for m in fake.messages(CHANNEL) if f"submitted *{merchant}*" in text_of(m)), None)


def replies(fake: FakeSlack, merchant: str, words: str) -> list[dict[str, Any]]:
    parent = expense_message(fake, merchant)
    if parent is None:
        return []
    return [reply for reply in fake.thread(CHANNEL, parent["ts"]) if words in text_of(reply)]


async def register_and_connect_xero(bot: RunningBot, fake: FakeSlack, codat: FakeCodat) -> str:
    """Acme Ltd registered with Codat from Slack, Xero linked through the posted link; answers the company id."""
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake.wait_for("chat.postMessage")
    assert f"<@{ADMIN}> registered *Acme Ltd* with Codat" in text_of(fake.messages(CHANNEL)[-1])
    (company,) = codat.companies()
    assert company["name"] == "Acme Ltd"

    await bot.sender.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
    await fake.wait_for("chat.postMessage", count=2)
    link_message = fake.messages(CHANNEL)[-1]
    buttons = [block["accessory"] for block in link_message["blocks"] if block.get("accessory")]
    assert [b["text"]["text"] for b in buttons] == ["Connect Xero"]
    (pending,) = codat.connections(company["id"])
    assert (pending["status"], pending["integrationKey"]) == ("PendingAuth", "gbol")
    assert buttons[0]["url"] == pending["linkUrl"]
    assert "stays valid until it is used" in text_of(link_message)
    assert "to Codat" in text_of(link_message)

    codat.complete_link(company["id"])
    await fake.wait_for("chat.postMessage", count=3, timeout=10)
    assert "*Xero* is connected for *Acme Ltd*" in text_of(fake.messages(CHANNEL)[-1])
    await fake.wait_for("chat.update", where=lambda call: call.params.get("ts") == link_message["ts"], timeout=15)
    # Codat takes expenses only beside a partner expense connection: made once the link was seen.
    kinds = sorted((c["sourceType"], c["status"]) for c in codat.connections(company["id"]))
    assert kinds == [("Accounting", "Linked"), ("Expense", "Linked")]
    return str(company["id"])


async def submit(bot: RunningBot, fake: FakeSlack, merchant: str, **changes: Any) -> None:
    view = await open_expense_modal(bot, fake)
    values = filled(REFS, merchant=merchant, **changes)
    sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
    assert sent.status_code == 200


async def test_the_journey_with_codat(codat_bot: RunningBot, fake_slack: FakeSlack, codat: FakeCodat) -> None:
    assert codat_bot.lines == [
        f"Sync2Books bot ready (HTTP mode: Slack sends to {codat_bot.url}/slack/events; "
        f"expenses sync through Codat at {codat.url})"
    ]
    company_id = await register_and_connect_xero(codat_bot, fake_slack, codat)

    # The modal offers what Codat takes: its four types, and a supplier (Codat names no customer as contact).
    view = await open_expense_modal(codat_bot, fake_slack)
    kinds = next(b for b in view["blocks"] if b.get("block_id") == "type")["element"]["options"]
    assert [o["value"] for o in kinds] == ["Payment", "Refund", "Reward", "Chargeback"]
    assert next(b for b in view["blocks"] if b.get("block_id") == "contact")["label"]["text"] == "Supplier"
    currency = next(b for b in view["blocks"] if b.get("block_id") == "currency")["element"]["initial_option"]
    assert currency["value"] == "GBP"  # the company's base currency, from Codat's company info

    # An expense with a receipt: in the books, told once, and the receipt on the booked transaction.
    fake_slack.add_file("F0LUNCH", name="lunch.png", mimetype="image/png", content=PNG)
    await submit(codat_bot, fake_slack, "Good Lunch", files=("F0LUNCH",))
    (done,) = await until(lambda: replies(fake_slack, "Good Lunch", "is in the books"))
    assert "*Good Lunch* (£1,481.40) is in the books." in text_of(done)
    (transaction,) = codat.transactions(company_id)
    sent = next(r.json for r in codat.requests if r.path.endswith("/expense-transactions"))
    assert sent == [
        {
            "id": transaction["id"],
            "type": "Payment",
            "issueDate": "2026-11-20T00:00:00Z",
            "currency": "GBP",
            "contactRef": {"id": "sup-004", "type": "Supplier"},
            "bankAccountRef": {"id": "acc-091"},
            "merchantName": "Good Lunch",
            "lines": [
                {
                    "netAmount": sent[0]["lines"][0]["netAmount"],
                    "taxAmount": sent[0]["lines"][0]["taxAmount"],
                    "taxRateRef": {"id": "INPUT2"},
                    "accountRef": {"id": "acc-429"},
                    "trackingRefs": [{"id": "DEPARTMENT_1", "dataType": "trackingCategories"}],
                    "invoiceTo": {"id": "cus-002", "type": "customer"},
                }
            ],
            "notes": "Team lunch",
            "postAsDraft": True,
        }
    ]
    assert str(sent[0]["lines"][0]["netAmount"]) == "1234.50" and str(sent[0]["lines"][0]["taxAmount"]) == "246.90"
    (receipt,) = await until(lambda: list(codat.attachments))
    assert (receipt.transaction_id, receipt.sha256) == (transaction["id"], hashlib.sha256(PNG).hexdigest())

    # One Codat refuses: told once, in Codat's words, with Fix and retry.
    await submit(codat_bot, fake_slack, "REFUSE Taxi")
    (failed,) = await until(lambda: replies(fake_slack, "REFUSE Taxi", "did not sync"))
    assert "The line item total must equal the transaction total" in text_of(failed)
    assert "Fix and retry" in text_of(failed)
    await fake_slack.wait_for("chat.update", where=lambda c: "Sync failed" in text_of(c.params), timeout=10)
    parent = expense_message(fake_slack, "REFUSE Taxi")
    assert parent is not None

    # Several more looks later, nothing is said twice.
    await asyncio.sleep(2)
    assert len(replies(fake_slack, "Good Lunch", "is in the books")) == 1
    assert len(replies(fake_slack, "REFUSE Taxi", "did not sync")) == 1

    # Fix and retry: the corrected expense goes to Codat again under the same id, and lands.
    button = next(e for b in failed["blocks"] if b["type"] == "actions" for e in b["elements"])
    expense_id = button["value"]
    opened = len(fake_slack.calls_to("views.open"))
    await codat_bot.sender.action(
        user_id=ADMIN, action_id="fix_and_retry", value=expense_id, channel_id=CHANNEL, message=failed
    )
    await fake_slack.wait_for("views.open", count=opened + 1)
    fixed = await codat_bot.sender.submit_view(
        user_id=ADMIN,
        callback_id="expense",
        values=filled(REFS, merchant="Honest Taxi"),
        view=dict(fake_slack.views()[-1]),
    )
    assert fixed.status_code == 200
    await until(lambda: [r for r in fake_slack.thread(CHANNEL, parent["ts"]) if "is in the books" in text_of(r)])
    booked = {t["id"]: t for t in codat.transactions(company_id)}
    assert booked[expense_id]["status"] == "Completed"
    assert booked[expense_id]["body"]["merchantName"] == "Honest Taxi"
    assert len(codat.syncs(company_id)) == 3


async def test_a_failed_codat_sync_and_a_lost_authorization_are_told_once(
    codat_bot: RunningBot, fake_slack: FakeSlack, codat: FakeCodat
) -> None:
    company_id = await register_and_connect_xero(codat_bot, fake_slack, codat)
    codat.fail_next_sync(5000, "Xero is unavailable right now")
    await submit(codat_bot, fake_slack, "Stormy Taxi")
    (failed,) = await until(lambda: replies(fake_slack, "Stormy Taxi", "did not sync"))
    assert "Xero is unavailable right now" in text_of(failed)
    assert "Retry in a while" in text_of(failed)  # the advice for a sync that failed on the way (5xxx)

    (accounting,) = [c for c in codat.connections(company_id) if c["sourceType"] == "Accounting"]
    codat.set_connection_status(company_id, accounting["id"], "Deauthorized")
    lost = await fake_slack.wait_for(
        "chat.postMessage", where=lambda c: "stopped accepting expenses" in text_of(c.params), timeout=10
    )
    assert "*Xero* stopped accepting expenses for *Acme Ltd*" in text_of(lost[0].params)
    assert "/sync2books connect xero" in text_of(lost[0].params)
    await asyncio.sleep(2)
    assert len(replies(fake_slack, "Stormy Taxi", "did not sync")) == 1
    assert len([m for m in fake_slack.messages(CHANNEL) if "stopped accepting expenses" in text_of(m)]) == 1


async def test_codat_refusals_are_plain_words(codat_bot: RunningBot, fake_slack: FakeSlack, codat: FakeCodat) -> None:
    answer = await codat_bot.sender.command("register Café (UK) Ltd", user_id=ADMIN, channel_id=CHANNEL)
    assert answer.status_code == 200
    (said,) = await fake_slack.wait_for_responses(answer.response_key)
    assert "Codat takes company names made of letters A–Z" in text_of(said)
    assert "“(”" in text_of(said) and "“é”" in text_of(said)
    assert codat.companies() == []

    await register_and_connect_xero(codat_bot, fake_slack, codat)
    asked = await codat_bot.sender.command("connect wave", user_id=ADMIN, channel_id=CHANNEL)
    (refused,) = await fake_slack.wait_for_responses(asked.response_key)
    assert "I don't know the software “wave”" in text_of(refused)
    assert "netsuite" in text_of(refused) and "freeagent" in text_of(refused)

    # No name: a link per platform Codat connects to; asked again, the links still waiting are posted again.
    def made() -> int:
        return len([r for r in codat.requests if r.method == "POST" and r.path.endswith("/connections")])

    before = made()
    for _ in range(2):
        posted = len(fake_slack.calls_to("chat.postMessage"))
        await codat_bot.sender.command("connect", user_id=ADMIN, channel_id=CHANNEL)
        await fake_slack.wait_for("chat.postMessage", count=posted + 1)
        message = fake_slack.messages(CHANNEL)[-1]
        every = [b["accessory"]["text"]["text"] for b in message["blocks"] if b.get("accessory")]
        assert len(every) == 8 and "Connect Oracle NetSuite" in every and "Connect MYOB Business" in every
        assert made() - before == 8  # a new one for each platform, Xero too (its linked one is no link)

    helped = await codat_bot.sender.command("help", user_id=ADMIN, channel_id=CHANNEL)
    (usage,) = await fake_slack.wait_for_responses(helped.response_key)
    assert "create the company with Codat" in text_of(usage)


async def test_a_five_thousand_character_error_is_told_shortened_not_dropped(
    codat_bot: RunningBot, fake_slack: FakeSlack, codat: FakeCodat
) -> None:
    """Slack refuses a section over 3,000 characters; a long error from the books must still reach the thread."""
    await register_and_connect_xero(codat_bot, fake_slack, codat)
    told = "Xero said <!channel> & more: " + "the ledger is locked for this period. " * 140
    assert len(told) > 5000
    codat.fail_next_sync(5000, told)
    await submit(codat_bot, fake_slack, "Wordy Taxi")
    (failed,) = await until(lambda: replies(fake_slack, "Wordy Taxi", "did not sync"))
    shown = text_of(failed)
    assert "Xero said <!channel> & more: the ledger is locked for this period." in shown
    assert "…" in shown and len(shown) < len(told)
    assert "Fix and retry" in shown
    await until(lambda: "Sync failed" in text_of(expense_message(fake_slack, "Wordy Taxi")))


async def test_a_refused_codat_key_names_codats_variable(
    fake_slack: FakeSlack, codat: FakeCodat, bot_database: str
) -> None:
    settings = bot_settings(
        fake_slack, bot_database, None, sync_backend="codat", codat_api_key="not-the-key", codat_api_url=codat.url
    )
    with RunningBot(settings, fake_slack) as bot:
        answer = await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=CHANNEL)
        assert answer.status_code == 200
        (said,) = await fake_slack.wait_for_responses(answer.response_key)
    assert "Codat refused the bot's API key. An admin should check CODAT_API_KEY." in text_of(said)
    assert "SYNC2BOOKS" not in text_of(said)
    assert codat.companies() == []
