"""Modal submissions: checked before the modal closes, answered inside it next to the field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.services.companies import name_problem
from handlers import blocks
from handlers.replies import answering


def _value(view: dict[str, Any], block_id: str) -> str:
    return str(view["state"]["values"].get(block_id, {}).get("value", {}).get("value") or "")


def register(app: AsyncApp, services: Services) -> None:
    @app.view(blocks.REGISTER_CALLBACK)
    async def register_company(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        name, description = _value(view, "name"), _value(view, "description")
        problem = name_problem(name)
        if problem:
            await ack(response_action="errors", errors={"name": problem})
            return
        await ack()
        user, channel = body["user"]["id"], view["private_metadata"]

        async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
            await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=message_blocks)

        async with answering(reply, "registering a company from the modal"):
            await services.companies.register(user, channel, name, description)
