"""NUL, control and direction characters: refused in the modal next to the field, in plain words, before any
API call, on SQLite and on PostgreSQL (where a NUL cannot even be stored: a company created with Sync2Books
and not remembered by the bot would be an orphan)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.databases import database_url
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient

CHARACTERS = {"NUL": "\x00", "bell": "\x07", "escape": "\x1b", "right-to-left override": "\u202e", "DEL": "\x7f"}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_control_characters_are_refused_before_anything_is_created(
    kind: str, tmp_path: Path, fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient
) -> None:
    async with database_url(kind, tmp_path) as url:
        with RunningBot(bot_settings(fake_slack, url, sandbox.url), fake_slack) as bot:
            tried = 0
            for label, char in CHARACTERS.items():
                for field, values in (
                    ("name", {"name": {"value": f"Acme{char}Ltd"}}),
                    ("description", {"name": {"value": "Acme Ltd"}, "description": {"value": f"Our{char}books"}}),
                ):
                    sent = await bot.sender.submit_view(
                        user_id=ADMIN, callback_id="register_company", values=values, private_metadata=CHANNEL
                    )
                    answer = sent.response.json()
                    assert answer["response_action"] == "errors", (label, field)
                    assert "invisible control character" in answer["errors"][field], (label, field)
                    tried += 1
                reply = await bot.sender.command(f"register Acme{char}Ltd", user_id=ADMIN, channel_id=CHANNEL)
                (said,) = await fake_slack.wait_for_responses(reply.response_key)
                assert "invisible control character" in text_of(said), label
                tried += 1
            assert (await client.list_companies()).results == []
            assert fake_slack.calls_to("chat.postMessage") == []
            print(f"\n{kind}: {tried} names and descriptions with control characters, all refused, 0 companies")

            # And in the expense modal: merchant and notes, next to the field.
            _, refs = await company_with_xero(bot, fake_slack, client)
            for label, char in CHARACTERS.items():
                view = await open_expense_modal(bot, fake_slack)
                values = filled(refs, merchant=f"Pret{char}")
                values["notes"] = {"value": f"Team{char}lunch"}
                sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
                errors = sent.response.json()["errors"]
                assert "invisible control character" in errors["merchant"], label
                assert "invisible control character" in errors["notes"], label
            (company,) = (await client.list_companies()).results
            assert company.name == "Acme Ltd"
