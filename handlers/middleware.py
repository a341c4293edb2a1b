"""Bolt middleware: what every request passes through before a listener sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt import BoltResponse

from slack_ui.payloads import UNREADABLE, payload_problem


async def refuse_malformed(
    body: dict[str, Any], next: Callable[[], Awaitable[None]], logger: Any
) -> BoltResponse | None:
    """Bolt middleware: a payload of the wrong shape gets a plain 400 and reaches no listener."""
    problem = payload_problem(body)
    if problem is not None:
        logger.warning("refused a malformed %s payload (%s)", body.get("type") or "command", problem)
        return BoltResponse(status=400, body=UNREADABLE)
    await next()
    return None
