"""Calling a listener as Bolt would: a realistic body (built as Slack builds it), a recording ``ack``, mocked
``client``/``respond``, and a context holding mocked services the way the composition's middleware puts them."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import AsyncMock, MagicMock
from urllib.parse import parse_qs

from handlers.context import EXPENSE_MODALS, SERVICES, NewestViews
from slack_ui.payloads import form_payload
from tests.support.fake_slack import BOT_USER_ID
from tests.support.slack_requests import JSON, Body


class Ack:
    """Bolt's ack as the listeners use it: awaited once, with what it answered kept."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.response: object | None = None

    async def __call__(self, **answer: Any) -> None:
        self.calls.append(answer)
        self.response = answer or True

    @property
    def answer(self) -> dict[str, Any]:
        (answer,) = self.calls
        return answer


def body_of(request: Body) -> dict[str, Any]:
    """What Bolt hands a listener as ``body``, from the bytes Slack would post."""
    raw, content_type = request
    if content_type == JSON:
        parsed: dict[str, Any] = json.loads(raw)
        return parsed
    fields = parse_qs(raw.decode())
    if "payload" in fields:
        payload: dict[str, Any] = json.loads(fields["payload"][0])
        return payload
    return form_payload(fields)


def mocked_services() -> MagicMock:
    services = MagicMock()
    services.connections.service_name = "Sync2Books"
    services.expenses.contact_types = ("Supplier", "Customer")
    return services


def context_with(services: MagicMock, **more: Any) -> dict[str, Any]:
    return {SERVICES: services, EXPENSE_MODALS: NewestViews(), "bot_user_id": BOT_USER_ID, **more}


def mocked_client() -> AsyncMock:
    return AsyncMock()
