"""Slack entry points, grouped by the surface that calls them; ``register_all`` wires them onto the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, commands, events, expenses, views


def register_all(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    expenses.register(app, services)
