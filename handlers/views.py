"""Modal submissions: checked before the modal closes, answered inside it next to the field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.services.companies import description_problem, name_problem
from bot.services.refusals import Unreadable
from handlers import blocks
from handlers.blocks import SLACK_CHANNEL_ID
from handlers.expense_state import text_value, view_values
from handlers.replies import answering, guarded


def register(app: AsyncApp, services: Services) -> None:
    @app.view(blocks.REGISTER_CALLBACK)
    @guarded
    async def register_company(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        values = view_values(view)
        name, description = text_value(values, "name"), text_value(values, "description")
        problems = {"name": name_problem(name), "description": description_problem(description)}
        if any(problems.values()):
            await ack(response_action="errors", errors={k: v for k, v in problems.items() if v})
            return
        channel = view.get("private_metadata")
        if not isinstance(channel, str) or not SLACK_CHANNEL_ID.match(channel):
            await ack(response_action="errors", errors={"name": str(Unreadable())})
            return
        await ack()
        user = body["user"]["id"]

        async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
            await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=message_blocks)

        async with answering(reply, "registering a company from the modal"):
            await services.companies.register(user, channel, name, description)
