"""The modal itself: lines added in place, the exchange rate when the currency differs, choosing a connection,
company defaults, and receipt uploads retried quietly through API faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sync2books.models import CompanyConfig, IntegrationKey, Ref
from tests.support.bot import ADMIN, CHANNEL, RunningBot
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import authorize
from tests.support.sandbox_client import SandboxClient
from tests.support.slack_requests import interaction, new_trigger_id


async def stored(client: SandboxClient, connection_id: str) -> list[str]:
    async with asyncio.timeout(20):
        while True:
            ids = [e.id async for b in client.iter_sync_batches(connection_id=connection_id) for e in b.expenses]
            if ids:
                return ids
            await asyncio.sleep(0.1)


def block_ids(view: dict[str, Any]) -> list[str]:
    return [block.get("block_id", "") for block in view["blocks"]]


async def click_in_view(
    bot: RunningBot, fake: FakeSlack, view: dict[str, Any], action_id: str, **action: Any
) -> dict[str, Any]:
    updates = len(fake.calls_to("views.update"))
    await bot.sender.action(user_id=ADMIN, action_id=action_id, view=view, action=action or None)
    (call,) = (await fake.wait_for("views.update", count=updates + 1))[updates:]
    assert call.params["view_id"] == view["id"]
    return dict(call.params["view"], id=view["id"])


async def test_add_line_keeps_every_block_and_adds_the_next_line(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await company_with_xero(bot, fake_slack, client)
    view = await open_expense_modal(bot, fake_slack)
    assert "line1_account" not in block_ids(view)
    grown = await click_in_view(bot, fake_slack, view, "expense_add_line")
    before, after = block_ids(view), block_ids(grown)
    # Same block ids in the same places: Slack keeps what was typed in them.
    assert [b for b in after if not b.startswith("line1_")][: len(before)] == [b for b in before if b][
        : len(before)
    ] or set(before) <= set(after)
    for field in ("account", "tax_rate", "net", "tax", "tracking", "invoice_to"):
        assert f"line1_{field}" in after
    assert json.loads(grown["private_metadata"])["lines"] == 2


async def test_a_foreign_currency_asks_for_the_exchange_rate(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    view = await open_expense_modal(bot, fake_slack)
    assert "currency_rate" not in block_ids(view)
    view["state"] = {
        "values": {"currency": {"expense_currency": {"type": "static_select", "selected_option": {"value": "EUR"}}}}
    }
    with_rate = await click_in_view(bot, fake_slack, view, "expense_currency", selected_option={"value": "EUR"})
    rate_block = next(b for b in with_rate["blocks"] if b.get("block_id") == "currency_rate")
    assert rate_block["label"]["text"] == "Exchange rate, EUR to GBP"

    submitted = await bot.sender.submit_view(
        user_id=ADMIN,
        callback_id="expense",
        values=filled(refs, currency="EUR", rate="0.85", net="100.00", tax="20.00"),
        view=with_rate,
    )
    assert submitted.status_code == 200
    ids = await stored(client, connection.id)
    record = await client.get_expense(connection.id, ids[0])
    assert record.expense is not None
    assert (record.expense.currency, str(record.expense.currency_rate)) == ("EUR", "0.85")


async def test_a_company_with_two_connections_asks_which_first(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    xero, _ = await company_with_xero(bot, fake_slack, client)
    sage_link = await client.get_auth_url(xero.company_id, IntegrationKey.SAGE)
    await authorize(sage_link.auth_url)
    await fake_slack.wait_for("chat.postMessage", count=4, timeout=10)  # the watcher saw Sage too
    view = await open_expense_modal(bot, fake_slack)
    assert block_ids(view)[0] == "connection"
    assert "type" not in block_ids(view)
    assert view["submit"]["text"] == "Next"
    choices = {o["text"]["text"] for o in view["blocks"][0]["element"]["options"]}
    assert choices == {"Sage", "Xero"}

    not_chosen = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values={}, view=view)
    assert not_chosen.response.json() == {
        "response_action": "errors",
        "errors": {"connection": "Choose the accounting software."},
    }
    sage_id = next(o["value"] for o in view["blocks"][0]["element"]["options"] if o["text"]["text"] == "Sage")
    view["state"] = {
        "values": {
            "connection": {"expense_connection": {"type": "static_select", "selected_option": {"value": sage_id}}}
        }
    }
    full = await click_in_view(bot, fake_slack, view, "expense_connection", selected_option={"value": sage_id})
    assert json.loads(full["private_metadata"])["connection_id"] == sage_id
    assert "type" in block_ids(full)


async def test_the_companys_default_bank_account_is_preselected(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    await client.put_company_config(connection.company_id, CompanyConfig(bank_account_ref=Ref(id=refs.bank_account)))
    await open_expense_modal(bot, fake_slack)  # the first look fetches the defaults in the background
    await asyncio.sleep(1.0)
    view = await open_expense_modal(bot, fake_slack)
    bank = next(b for b in view["blocks"] if b.get("block_id") == "bank_account")
    assert bank["element"]["initial_option"]["value"] == refs.bank_account


async def test_a_receipt_upload_that_fails_is_retried_without_bothering_anyone(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    fake_slack.add_file("F0RETRY", name="retry.pdf", mimetype="application/pdf", content=b"%PDF-1.4 retry")
    view = await open_expense_modal(bot, fake_slack)
    await bot.sender.submit_view(
        user_id=ADMIN, callback_id="expense", values=filled(refs, files=("F0RETRY",)), view=view
    )
    ids = await stored(client, connection.id)
    await client.configure_sandbox(error_rate=1.0)
    await asyncio.sleep(3.0)  # uploads fail meanwhile
    await client.configure_sandbox(error_rate=0.0)
    async with asyncio.timeout(30):
        while True:
            if await client.list_attachments(connection.id, ids[0]):
                break
            await asyncio.sleep(0.2)
    assert not [m for m in fake_slack.messages(CHANNEL) if "could not attach" in text_of(m)]


async def test_the_shortcut_and_the_home_button_open_the_modal_too(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    await company_with_xero(bot, fake_slack, client)
    shortcut = {
        "type": "shortcut",
        "callback_id": "new_expense",
        "trigger_id": new_trigger_id(),
        "user": {"id": ADMIN, "username": "ada", "team_id": "T0001"},
        "team": {"id": "T0001", "domain": "test"},
        "api_app_id": "A0001",
        "token": "x",
        "action_ts": "1700000000.1",
    }
    sent = await bot.sender.send(*interaction(shortcut))
    assert sent.status_code == 200
    (opened,) = await fake_slack.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "expense"
    assert json.loads(opened.params["view"]["private_metadata"])["channel_id"] == CHANNEL

    await bot.sender.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, event_id="Ev0HOMEBTN")
    await fake_slack.wait_for("views.publish")
    home = fake_slack.home(ADMIN)
    assert home is not None
    assert "New expense" in text_of(home)
    await bot.sender.action(user_id=ADMIN, action_id="new_expense", view=home)
    await fake_slack.wait_for("views.open", count=2)
    assert fake_slack.calls_to("views.open")[-1].params["view"]["callback_id"] == "expense"


async def test_a_click_on_an_older_version_of_the_modal_is_applied_to_the_newest(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    """Add line clicked twice before the first redraw shows: the second click carries the old hash, Slack answers
    hash_conflict, and the line is added to the newest version all the same."""
    await company_with_xero(bot, fake_slack, client)
    view = await open_expense_modal(bot, fake_slack)
    await click_in_view(bot, fake_slack, view, "expense_add_line")
    updates = len(fake_slack.calls_to("views.update"))
    await bot.sender.action(user_id=ADMIN, action_id="expense_add_line", view=view)  # the version before
    calls = (await fake_slack.wait_for("views.update", count=updates + 2))[updates:]
    assert [call.error for call in calls] == ["hash_conflict", None]
    shown = block_ids(fake_slack.view(view["id"]) or {})
    assert "line2_account" in shown  # three lines: neither click lost
    assert not [m for m in fake_slack.messages(ADMIN) if "Something went wrong" in text_of(m)]
