"""Events: the App Home, and the message events the manifest subscribes to.

Bolt acknowledges events before the listener runs; a redelivered event (same ``event_id``) is
recognised and left alone.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.services.expenses import summary
from handlers import blocks
from handlers.replies import guarded


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_home_opened")
    @guarded
    async def home_opened(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home" or not await services.deliveries.first_time(f"event:{body['event_id']}"):
            return
        companies = await services.home.companies_for(event["user"])
        recent = [summary(record) for record in await services.expenses.recent_for(event["user"], limit=5)]
        await client.views_publish(user_id=event["user"], view=blocks.home_view(companies, recent))

    @app.event("member_joined_channel")
    @guarded
    async def member_joined(event: dict[str, Any], context: dict[str, Any]) -> None:
        # Someone ran /invite @Sync2Books: what the bot owes that channel goes out now.
        if event.get("user") and event.get("user") == context.get("bot_user_id") and event.get("channel"):
            await services.membership.bot_joined(str(event["channel"]))

    @app.event("message")
    @guarded
    async def message(body: dict[str, Any], event: dict[str, Any]) -> None:
        # message.channels, message.groups and message.im alike: public, private and direct conversations.
        # Only messages with files matter (receipts); ordinary conversation needs no answer from the bot.
        files = [str(f["id"]) for f in event.get("files") or [] if f.get("id")]
        if not files or event.get("bot_id") or not await services.deliveries.first_time(f"event:{body['event_id']}"):
            return
        await services.receipts.on_files_posted(
            event["channel"], str(event.get("user") or ""), str(event["ts"]), event.get("thread_ts"), files
        )
