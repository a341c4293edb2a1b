"""Slack entry points, grouped by the surface that calls them; ``register_all`` wires them onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, commands, events, expenses, views
from handlers.payloads import refuse_malformed


def register_all(app: AsyncApp, services: Services) -> None:
    app.middleware(refuse_malformed)
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    expenses.register(app, services)
