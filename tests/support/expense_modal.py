"""Driving the expense modal as a person would: open it, fill it in, press Submit."""

from __future__ import annotations

import json
from typing import Any

from sync2books.models import Connection, IntegrationKey
from tests.support.bot import ADMIN, CHANNEL, RunningBot
from tests.support.expenses import LedgerRefs, ledger_refs
from tests.support.fake_slack import FakeSlack
from tests.support.sandbox import authorize
from tests.support.sandbox_client import SandboxClient


def selected(value: str, kind: str = "external_select") -> dict[str, Any]:
    return {"type": kind, "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}


def filled(
    refs: LedgerRefs,
    *,
    net: str = "1,234.50",
    tax: str = "246.90",
    currency: str | None = None,
    rate: str | None = None,
    files: tuple[str, ...] = (),
    merchant: str = "Pret A Manger",
) -> dict[str, dict[str, Any]]:
    """The modal's state after a person filled in every field."""
    values: dict[str, dict[str, Any]] = {
        "type": {"value": selected("Payment", "static_select")},
        "issue_date": {"value": {"type": "datepicker", "selected_date": "2026-11-20"}},
        "currency": {"expense_currency": selected(currency or refs.currency, "static_select")},
        "merchant": {"value": merchant},
        "contact": {"opt_contact": selected(f"Supplier:{refs.supplier}")},
        "bank_account": {"opt_bank_account": selected(refs.bank_account)},
        "line0_account": {"opt_account": selected(refs.account)},
        "line0_tax_rate": {"opt_tax_rate": selected(refs.tax_rate)},
        "line0_net": {"value": net},
        "line0_tax": {"value": tax},
        "line0_tracking": {
            "opt_tracking": {"type": "multi_external_select", "selected_options": [{"value": refs.tracking_category}]}
        },
        "line0_invoice_to": {"opt_invoice_to": selected(refs.customer)},
        "notes": {"value": "Team lunch"},
        "post_as_draft": {"value": {"type": "checkboxes", "selected_options": [{"value": "draft"}]}},
        "receipts": {"value": {"type": "file_input", "files": [{"id": file_id} for file_id in files]}},
    }
    if rate is not None:
        values["currency_rate"] = {"value": rate}
    return values


async def company_with_xero(
    bot: RunningBot, fake: FakeSlack, client: SandboxClient, channel: str = CHANNEL
) -> tuple[Connection, LedgerRefs]:
    """Acme Ltd registered in ``channel`` with Xero connected and seen by the watcher."""
    posted = len(fake.calls_to("chat.postMessage"))
    await bot.sender.command("register Acme Ltd", user_id=ADMIN, channel_id=channel)
    await fake.wait_for("chat.postMessage", count=posted + 1)
    await bot.sender.command("connect xero", user_id=ADMIN, channel_id=channel)
    await fake.wait_for("chat.postMessage", count=posted + 2)
    assert (await authorize(fake.messages(channel)[-1]["blocks"][1]["accessory"]["url"])).status_code == 200
    await fake.wait_for("chat.postMessage", count=posted + 3, timeout=10)
    (company,) = (await client.list_companies()).results
    (connection,) = await client.list_connections(company.id)
    assert connection.integration_key == IntegrationKey.XERO
    return connection, await ledger_refs(client, connection)


async def open_expense_modal(
    bot: RunningBot, fake: FakeSlack, user: str = ADMIN, channel: str = CHANNEL
) -> dict[str, Any]:
    opened = len(fake.calls_to("views.open"))
    await bot.sender.command("expense", user_id=user, channel_id=channel)
    await fake.wait_for("views.open", count=opened + 1)
    return dict(fake.views()[-1])  # as Slack holds it: with its id and hash


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(view["private_metadata"]))
