"""The register modal's submission, called as Bolt calls it."""

from __future__ import annotations

from unittest.mock import AsyncMock

from handlers.views import register_company
from tests.handlers.support import Ack, body_of, context_with, mocked_client, mocked_services
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import view_submission


def _submitted(name: str, metadata: str = CHANNEL) -> dict[str, object]:
    return body_of(
        view_submission(
            user_id=ADMIN,
            callback_id="register_company",
            values={"name": {"value": name}, "description": {"value": ""}},
            private_metadata=metadata,
        )
    )


async def test_a_name_is_registered_for_the_channel_the_modal_came_from() -> None:
    services = mocked_services()
    services.companies.register = AsyncMock()
    ack = Ack()
    body = _submitted("Acme Ltd")

    await register_company(
        ack=ack, body=body, view=body["view"], client=mocked_client(), context=context_with(services)
    )

    assert ack.answer == {}
    services.companies.register.assert_awaited_once_with(ADMIN, CHANNEL, "Acme Ltd", "")


async def test_an_empty_name_is_said_next_to_the_field_and_nothing_is_registered() -> None:
    services = mocked_services()
    services.companies.register = AsyncMock()
    ack = Ack()
    body = _submitted("   ")

    await register_company(
        ack=ack, body=body, view=body["view"], client=mocked_client(), context=context_with(services)
    )

    assert ack.answer["response_action"] == "errors" and set(ack.answer["errors"]) == {"name"}
    services.companies.register.assert_not_awaited()


async def test_metadata_that_is_not_a_channel_is_refused_in_the_modal() -> None:
    ack = Ack()
    body = _submitted("Acme Ltd", metadata="<!channel>")

    await register_company(
        ack=ack, body=body, view=body["view"], client=mocked_client(), context=context_with(mocked_services())
    )

    assert ack.answer == {
        "response_action": "errors",
        "errors": {"name": "Sync2Books could not read what Slack sent, so nothing was done. Please try again."},
    }
