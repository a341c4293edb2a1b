"""The expense modal's menus asking for options, called as Bolt calls them."""

from __future__ import annotations

import json
from types import SimpleNamespace
from unittest.mock import AsyncMock

from handlers.expense_options import contact_options, reference_options
from sync2books.models import ReferenceKind
from tests.handlers.support import Ack, body_of, context_with, mocked_services
from tests.support.bot import ADMIN
from tests.support.slack_requests import block_suggestion

VIEW = {"id": "V0MODAL", "private_metadata": json.dumps({"company_id": "comp-1", "connection_id": "conn-xero"})}


async def test_accounts_are_offered_with_their_codes() -> None:
    services = mocked_services()
    services.expenses.may_use_connection = AsyncMock(return_value=True)
    services.reference.options = AsyncMock(return_value=[SimpleNamespace(id="acc-1", name="Travel", code="400")])
    ack = Ack()
    body = body_of(block_suggestion(user_id=ADMIN, action_id="opt_account", value="trav", view=VIEW))

    await reference_options(ack=ack, body=body, context=context_with(services))

    services.expenses.may_use_connection.assert_awaited_once_with(ADMIN, "conn-xero")
    services.reference.options.assert_awaited_once_with("conn-xero", ReferenceKind.ACCOUNTS, "trav")
    (offered,) = ack.answer["options"]
    assert (offered["text"]["text"], offered["value"]) == ("400 · Travel", "acc-1")


async def test_a_connection_the_person_may_not_use_offers_nothing() -> None:
    services = mocked_services()
    services.expenses.may_use_connection = AsyncMock(return_value=False)
    services.reference.options = AsyncMock()
    ack = Ack()
    body = body_of(block_suggestion(user_id=ADMIN, action_id="opt_contact", value="", view=VIEW))

    await contact_options(ack=ack, body=body, context=context_with(services))

    assert ack.answer == {"options": []}
    services.reference.options.assert_not_awaited()
