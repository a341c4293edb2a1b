"""Slack entry points, grouped by the surface that calls them; ``register_all`` wires them onto the app.

Each module's ``register(app)`` wires its module-level listeners; they find the services in Bolt's context,
put there by the middleware ``register_all`` adds first.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, commands, events, expense_messages, expense_modal, expense_options, views
from handlers.context import providing
from handlers.middleware import refuse_malformed


def register_all(app: AsyncApp, services: Services) -> None:
    app.middleware(refuse_malformed)
    app.middleware(providing(services))
    commands.register(app)
    views.register(app)
    actions.register(app)
    events.register(app)
    expense_modal.register(app)
    expense_options.register(app)
    expense_messages.register(app)
