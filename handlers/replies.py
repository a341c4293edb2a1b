"""Answering the person who asked, whatever went wrong: a refusal in plain words, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from bot.services.refusals import Refusal
from handlers import blocks

log = logging.getLogger(__name__)

Reply = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
SOMETHING_WENT_WRONG = "Something went wrong on our side, and nothing was changed. Please try again in a minute."


@asynccontextmanager
async def answering(reply: Reply, doing: str) -> Any:
    """Run the block; a Refusal is said to the user as it is, anything else as a plain apology."""
    try:
        yield
    except Refusal as refusal:
        await reply(*blocks.refusal(refusal))
    except Exception as exc:  # the last line of defence: log it, tell the user plainly
        log.error("failed while %s: %s: %s", doing, type(exc).__name__, exc)
        log.debug("details", exc_info=True)
        await reply(*blocks.refusal(SOMETHING_WENT_WRONG))
