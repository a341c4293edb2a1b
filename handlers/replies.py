"""Answering the person who asked, whatever went wrong: a refusal in plain words, never a traceback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from bot.services.refusals import Refusal
from slack_ui.answers import refusal as refusal_message

log = logging.getLogger(__name__)

Reply = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
SOMETHING_WENT_WRONG = "Something went wrong on our side, and nothing was changed. Please try again in a minute."


@asynccontextmanager
async def answering(reply: Reply, doing: str) -> Any:
    """Run the block; a Refusal is said to the user as it is, anything else as a plain apology."""
    try:
        yield
    except Refusal as refusal:
        await reply(*refusal_message(refusal))
    except Exception as exc:  # the last line of defence: log it, tell the user plainly
        log.error("failed while %s: %s: %s", doing, type(exc).__name__, exc)
        log.debug("details", exc_info=True)
        await reply(*refusal_message(SOMETHING_WENT_WRONG))


Listener = Callable[..., Awaitable[None]]


def guarded(listener: Listener) -> Listener:
    """A listener whose failure after its ack is one log line and nothing more.

    Bolt, meeting an exception after the ack, forgets the ack and makes Slack wait three seconds for a
    404 (and Slack then redelivers an event). Before the ack the exception goes on to Bolt's error
    handler, which answers a plain 400 at once. Events are acknowledged by Bolt before the listener runs.
    """

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        try:
            await listener(**kwargs)
        except Exception as exc:
            ack = kwargs.get("ack")
            if ack is not None and ack.response is None:
                raise
            log.error("%s failed after its ack: %s: %s", listener.__name__, type(exc).__name__, exc)
            log.debug("details", exc_info=True)

    return run
