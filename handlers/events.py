"""Events: the App Home, and the message events the manifest subscribes to.

Bolt acknowledges events before the listener runs; a redelivered event (same ``event_id``) is
recognised and left alone.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.expenses import summary
from handlers.context import services_of
from handlers.replies import guarded
from slack_ui import home


def register(app: AsyncApp) -> None:
    app.event("app_home_opened")(home_opened)
    app.event("member_joined_channel")(member_joined)
    app.event("message")(message)


@guarded
async def home_opened(
    body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: dict[str, Any]
) -> None:
    services = services_of(context)
    if event.get("tab", "home") != "home" or not await services.deliveries.first_time(f"event:{body['event_id']}"):
        return
    companies = await services.home.companies_for(event["user"])
    recent = [summary(record) for record in await services.expenses.recent_for(event["user"], limit=5)]
    await client.views_publish(user_id=event["user"], view=home.home_view(companies, recent))


@guarded
async def member_joined(event: dict[str, Any], context: dict[str, Any]) -> None:
    # Someone ran /invite @Sync2Books: what the bot owes that channel goes out now.
    if event.get("user") and event.get("user") == context.get("bot_user_id") and event.get("channel"):
        await services_of(context).membership.bot_joined(str(event["channel"]))


@guarded
async def message(body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
    # message.channels, message.groups and message.im alike: public, private and direct conversations.
    # Only messages with files matter (receipts); ordinary conversation needs no answer from the bot.
    services = services_of(context)
    files = [str(f["id"]) for f in event.get("files") or [] if f.get("id")]
    if not files or event.get("bot_id") or not await services.deliveries.first_time(f"event:{body['event_id']}"):
        return
    await services.receipts.on_files_posted(
        event["channel"], str(event.get("user") or ""), str(event["ts"]), event.get("thread_ts"), files
    )
