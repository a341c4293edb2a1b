"""The middleware every request passes: the payload's shape, and the services put in the context."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock

from handlers.context import providing, services_of
from handlers.middleware import refuse_malformed
from tests.handlers.support import body_of, mocked_services
from tests.support.bot import ADMIN, CHANNEL
from tests.support.slack_requests import block_actions


async def test_a_click_without_a_user_is_refused_before_any_listener() -> None:
    body = body_of(block_actions(user_id=ADMIN, action_id="disconnect_confirm", value="c", channel_id=CHANNEL))
    del body["user"]
    next_ = AsyncMock()

    response = await refuse_malformed(body=body, next=next_, logger=logging.getLogger("test"))

    assert response is not None and response.status == 400
    next_.assert_not_awaited()


async def test_the_services_are_in_every_requests_context() -> None:
    services = mocked_services()
    context: dict[str, object] = {}
    next_ = AsyncMock()

    await providing(services)(context=context, next=next_)

    assert services_of(context) is services
    next_.assert_awaited_once()
