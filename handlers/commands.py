"""``/sync2books`` and its subcommands: ack at once, then hand off to a service."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import InviteNeeded
from bot.services import Services
from handlers.context import services_of
from handlers.expense_modal import modal as expense_modal
from handlers.replies import Reply, answering, guarded
from slack_ui import announcements, answers, connections, expense_messages, ids, register_modal


def register(app: AsyncApp) -> None:
    app.command(ids.COMMAND)(sync2books)


@guarded
async def sync2books(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: dict[str, Any]
) -> None:
    await ack()
    await run(services_of(context), command, respond, client)


async def run(services: Services, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
    name, _, rest = str(command.get("text") or "").strip().partition(" ")
    user, channel = command["user_id"], command["channel_id"]

    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await respond(text=text, blocks=message_blocks, response_type="ephemeral")

    async with answering(reply, f"running /sync2books {name}"):
        match name.lower():
            case "register":
                if rest.strip():
                    await services.companies.register(user, channel, rest, None)
                    await _invite_hint(services, channel, user, reply)
                else:
                    await services.companies.check_can_register(user, channel)
                    await client.views_open(
                        trigger_id=command["trigger_id"],
                        view=register_modal.register_modal(channel, services.connections.service_name),
                    )
            case "link":
                await services.companies.link(user, channel, rest)
                await _invite_hint(services, channel, user, reply)
            case "connect":
                await services.connections.request_links(user, channel, rest)
            case "connections":
                company_name, found = await services.connections.list(channel, user)
                await reply(*connections.connections_list(company_name, found))
            case "status":
                company_name, batches = await services.expenses.recent_batches(channel, user)
                await reply(*expense_messages.status_list(company_name, batches))
            case "expense":
                context = await services.expenses.start(channel, user)
                await client.views_open(trigger_id=command["trigger_id"], view=expense_modal(context))
            case "disconnect":
                prompt = await services.connections.prepare_disconnect(user, channel, rest)
                await reply(
                    *connections.disconnect_confirmation(
                        prompt.company_name, prompt.software_name, prompt.connection_id
                    )
                )
            case _:
                await reply(*answers.usage(services.connections.service_name, services.connections.software_names()))


async def _invite_hint(services: Services, channel: str, user: str, reply: Reply) -> None:
    """Said up front when the bot is not in the channel: what it will post there waits for the invitation."""
    if not await services.membership.check_member(channel, user):
        await reply(*announcements.invite_needed(InviteNeeded(channel_id=channel)))
