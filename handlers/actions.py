"""Button clicks. A second click of the same button finds the work done and changes nothing."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from handlers.context import services_of
from handlers.replies import answering, guarded
from slack_ui import connections, ids


def register(app: AsyncApp) -> None:
    app.action(ids.DISCONNECT_CONFIRM)(disconnect)
    app.action(ids.DISCONNECT_CANCEL)(cancel)
    app.action(re.compile(f"^{ids.AUTH_LINK_ACTION}:"))(link_opened)


@guarded
async def disconnect(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: dict[str, Any]
) -> None:
    await ack()
    user, channel = body["user"]["id"], body["channel"]["id"]

    async def reply(text: str, message_blocks: list[dict[str, Any]]) -> None:
        await respond(text=text, blocks=message_blocks, replace_original=True, response_type="ephemeral")

    async with answering(reply, "disconnecting"):
        done = await services_of(context).connections.disconnect(user, channel, action["value"])
        await reply(*connections.disconnect_done(done.company_name, done.software_name))


@guarded
async def cancel(ack: AsyncAck, respond: AsyncRespond) -> None:
    await ack()
    await respond(delete_original=True)


@guarded
async def link_opened(ack: AsyncAck) -> None:
    # A URL button opens the link in the browser by itself; Slack still wants its click acknowledged.
    await ack()
