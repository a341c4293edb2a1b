"""Crafted, correctly signed payloads from someone outside a company's channel.

Eve is in #other-books, which is linked to Beta LLC; Acme Ltd lives in #acme-books. Every id Eve puts into
a modal's metadata, a button's value or an option request is one she copied from Acme's messages. Each
attempt must change nothing, post nothing to Acme's channel and reveal none of Acme's books.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import pytest

from sync2books.models import Connection, ConnectionStatus
from tests.support.bot import ADMIN, CHANNEL, OTHER_CHANNEL, RunningBot
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal, selected
from tests.support.expenses import LedgerRefs
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox_client import SandboxClient

EVE = "UEVE"
BOGUS_ACCOUNT = "00000000-0000-4000-8000-00000000dead"


@dataclass
class Acme:
    connection: Connection
    refs: LedgerRefs
    view: dict[str, Any]  # an expense modal as an Acme member had it
    failed_expense_id: str
    db_path: str


def _rows(db_path: str, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as db:
        return list(db.execute(f"SELECT * FROM {table} ORDER BY 1"))  # noqa: S608 - our own table names


def _stored(acme: Acme) -> dict[str, list[tuple[Any, ...]]]:
    return {t: _rows(acme.db_path, t) for t in ("companies", "channel_links", "connections", "expenses", "receipts")}


async def _failed_expense(bot: RunningBot, fake: FakeSlack, refs: LedgerRefs) -> str:
    values = filled(refs, merchant="Bad Taxi")
    values["line0_account"] = {"opt_account": selected(BOGUS_ACCOUNT)}
    view = await open_expense_modal(bot, fake)
    assert (
        await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
    ).status_code == 200
    async with asyncio.timeout(20):
        while True:
            for message in fake.messages(CHANNEL):
                for reply in fake.thread(CHANNEL, message["ts"]):
                    if "did not sync" in text_of(reply):
                        return str(reply["blocks"][1]["elements"][0]["value"])
            await asyncio.sleep(0.1)


@pytest.fixture
async def acme(bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, bot_database: str) -> Acme:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    failed = await _failed_expense(bot, fake_slack, refs)
    fake_slack.add_user(EVE, name="eve")
    fake_slack.add_membership(EVE, OTHER_CHANNEL)
    await bot.sender.command("register Beta LLC", user_id=ADMIN, channel_id=OTHER_CHANNEL)
    await fake_slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == OTHER_CHANNEL)
    view = await open_expense_modal(bot, fake_slack)
    db_path = bot_database.removeprefix("sqlite:///")
    return Acme(connection, refs, view, failed, db_path)


async def _quiet(fake: FakeSlack) -> None:
    """Let whatever the bot does after its ack happen (there is no event for nothing happening)."""
    await asyncio.sleep(0.5)


def _posted_to_acme(fake: FakeSlack) -> int:
    return len([c for c in fake.calls_to("chat.postMessage") if c.params.get("channel") == CHANNEL])


async def _refused_reply(fake: FakeSlack, key: str | None) -> str:
    (answer,) = await fake.wait_for_responses(key)
    return text_of(answer)


async def test_an_expense_submitted_with_another_companys_metadata_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme
) -> None:
    before, posted = _stored(acme), _posted_to_acme(fake_slack)
    sent = await bot.sender.submit_view(user_id=EVE, callback_id="expense", values=filled(acme.refs), view=acme.view)
    assert sent.status_code == 200
    answer = sent.response.json()
    assert answer["response_action"] == "errors"
    assert "not in a channel of that company" in next(iter(answer["errors"].values()))
    await _quiet(fake_slack)
    assert _stored(acme) == before and _posted_to_acme(fake_slack) == posted


@pytest.mark.parametrize("action_id", ["opt_contact", "opt_account", "opt_bank_account", "opt_tax_rate"])
async def test_option_requests_for_another_companys_connection_answer_nothing(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme, action_id: str
) -> None:
    mine = await bot.sender.suggestion(user_id=ADMIN, action_id=action_id, value="", view=acme.view)
    assert mine.response.json().get("options") or mine.response.json().get("option_groups")  # the data is there
    sent = await bot.sender.suggestion(user_id=EVE, action_id=action_id, value="", view=acme.view)
    assert sent.status_code == 200
    assert sent.response.json() == {"options": []}


@pytest.mark.parametrize("subcommand", ["status", "connections", "expense", "connect xero", "disconnect xero"])
async def test_commands_naming_another_companys_channel_are_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme, subcommand: str
) -> None:
    before, posted, opened = _stored(acme), _posted_to_acme(fake_slack), len(fake_slack.calls_to("views.open"))
    sent = await bot.sender.command(subcommand, user_id=EVE, channel_id=CHANNEL)
    said = await _refused_reply(fake_slack, sent.response_key)
    assert "not in a channel of that company" in said
    assert "Acme" not in said and acme.connection.id not in said
    await _quiet(fake_slack)
    assert _stored(acme) == before and _posted_to_acme(fake_slack) == posted
    assert len(fake_slack.calls_to("views.open")) == opened


async def test_fix_and_retry_of_another_persons_expense_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme
) -> None:
    opened = len(fake_slack.calls_to("views.open"))
    sent = await bot.sender.action(
        user_id=EVE, action_id="fix_and_retry", value=acme.failed_expense_id, channel_id=OTHER_CHANNEL
    )
    assert "Only the person who submitted that expense" in await _refused_reply(fake_slack, sent.response_key)
    assert len(fake_slack.calls_to("views.open")) == opened


@pytest.mark.parametrize("own_company", [False, True], ids=["acme-metadata", "own-company-metadata"])
async def test_a_resubmission_rewriting_another_persons_failed_expense_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme, own_company: bool
) -> None:
    claimed = {**json.loads(acme.view["private_metadata"]), "retry_of": acme.failed_expense_id}
    if own_company:
        beta = next(row for row in _rows(acme.db_path, "channel_links") if row[0] == OTHER_CHANNEL)
        claimed["company_id"] = beta[1]
    before = _stored(acme)
    sent = await bot.sender.submit_view(
        user_id=EVE, callback_id="expense", values=filled(acme.refs), private_metadata=json.dumps(claimed)
    )
    assert sent.response.json()["response_action"] == "errors"
    await _quiet(fake_slack)
    assert _stored(acme) == before


async def test_attaching_a_file_to_another_persons_expense_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme
) -> None:
    fake_slack.add_file("F0EVE", name="receipt.png", mimetype="image/png", content=b"\x89PNG\r\n\x1a\n", user=EVE)
    before = _stored(acme)
    values = {"expense": {"value": selected(acme.failed_expense_id, "static_select")}}
    sent = await bot.sender.submit_view(
        user_id=EVE, callback_id="attach_receipt", values=values, private_metadata=json.dumps({"file_id": "F0EVE"})
    )
    assert sent.response.json() == {
        "response_action": "errors",
        "errors": {"expense": "You can attach receipts only to your own expenses."},
    }
    await _quiet(fake_slack)
    assert _stored(acme) == before


async def test_a_disconnect_button_naming_another_companys_connection_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme, client: SandboxClient
) -> None:
    # Eve is an admin of nothing, but even an admin acts only on the company of the channel they click in.
    sent = await bot.sender.action(
        user_id=ADMIN, action_id="disconnect_confirm", value=acme.connection.id, channel_id=OTHER_CHANNEL
    )
    assert "does not belong to this channel's company" in await _refused_reply(fake_slack, sent.response_key)
    (connection,) = await client.list_connections(acme.connection.company_id)
    assert connection.status == ConnectionStatus.CONNECTED


async def test_the_register_modal_cannot_link_a_channel_its_sender_does_not_administer(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme, client: SandboxClient
) -> None:
    companies = len((await client.list_companies()).results)
    sent = await bot.sender.submit_view(
        user_id=EVE, callback_id="register_company", values={"name": {"value": "Eve Co"}}, private_metadata="C0NEW"
    )
    assert sent.status_code == 200
    (said,) = await fake_slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == EVE)
    assert "Only workspace admins" in text_of(said.params)
    assert len((await client.list_companies()).results) == companies


async def test_new_expense_from_a_receipt_in_another_companys_channel_is_refused(
    bot: RunningBot, fake_slack: FakeSlack, acme: Acme
) -> None:
    opened = len(fake_slack.calls_to("views.open"))
    sent = await bot.sender.action(user_id=EVE, action_id="receipt_new_expense", value="F0ACME", channel_id=CHANNEL)
    assert "not in a channel of that company" in await _refused_reply(fake_slack, sent.response_key)
    assert len(fake_slack.calls_to("views.open")) == opened


async def test_redrawing_another_companys_modal_is_refused(bot: RunningBot, fake_slack: FakeSlack, acme: Acme) -> None:
    updated = len(fake_slack.calls_to("views.update"))
    sent = await bot.sender.action(user_id=EVE, action_id="expense_add_line", view=acme.view)
    assert sent.status_code == 200
    (said,) = await fake_slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == EVE)
    assert "not in a channel of that company" in text_of(said.params)
    assert len(fake_slack.calls_to("views.update")) == updated
