"""Modal submissions: checked before the modal closes, answered inside it next to the field."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.companies import description_problem, name_problem
from bot.services.refusals import Unreadable
from handlers.context import services_of
from handlers.replies import answering, guarded
from slack_ui import ids
from slack_ui.expense_state import text_value, view_values
from slack_ui.text import SLACK_CHANNEL_ID


def register(app: AsyncApp) -> None:
    app.view(ids.REGISTER_CALLBACK)(register_company)


@guarded
async def register_company(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    values = view_values(view)
    name, description = text_value(values, ids.COMPANY_NAME), text_value(values, ids.COMPANY_DESCRIPTION)
    problems = {ids.COMPANY_NAME: name_problem(name), ids.COMPANY_DESCRIPTION: description_problem(description)}
    if any(problems.values()):
        await ack(response_action="errors", errors={k: v for k, v in problems.items() if v})
        return
    channel = view.get("private_metadata")
    if not isinstance(channel, str) or not SLACK_CHANNEL_ID.match(channel):
        await ack(response_action="errors", errors={ids.COMPANY_NAME: str(Unreadable())})
        return
    await ack()
    user = body["user"]["id"]

    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=message_blocks)

    async with answering(reply, "registering a company from the modal"):
        await services_of(context).companies.register(user, channel, name, description)
