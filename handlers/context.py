"""What a listener finds in Bolt's context: the services, set once at composition by a middleware.

Listeners are module-level functions that take ``context`` like any other Bolt argument and ask it for
what they need, so a test can call one with a context it made.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, cast

from bot.services import Services

SERVICES = "sync2books_services"
EXPENSE_MODALS = "sync2books_expense_modals"
# Open modals whose newest version this process drew, by view id: enough for every modal open at once.
NEWEST_KEPT = 2000


class NewestViews:
    """The newest version of each open expense modal this process drew (Slack's answer to views.update)."""

    def __init__(self, kept: int = NEWEST_KEPT) -> None:
        self._kept = kept
        self._views: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def get(self, view_id: str) -> dict[str, Any] | None:
        return self._views.get(view_id)

    def drew(self, view_id: str, view: dict[str, Any]) -> None:
        self._views[view_id] = view
        self._views.move_to_end(view_id)
        while len(self._views) > self._kept:
            self._views.popitem(last=False)


Middleware = Callable[..., Awaitable[None]]


def providing(services: Services, expense_modals: NewestViews | None = None) -> Middleware:
    """Bolt middleware that puts the services (and the modal versions drawn) in every request's context."""
    modals = expense_modals or NewestViews()

    async def provide(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context[SERVICES] = services
        context[EXPENSE_MODALS] = modals
        await next()

    return provide


def services_of(context: dict[str, Any]) -> Services:
    return cast(Services, context[SERVICES])


def expense_modals_of(context: dict[str, Any]) -> NewestViews:
    return cast(NewestViews, context[EXPENSE_MODALS])
