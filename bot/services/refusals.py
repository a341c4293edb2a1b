"""What a service says when it will not do something: plain words for the person who asked."""

from __future__ import annotations

import logging

from sync2books.errors import (
    NotFoundError,
    Sync2BooksAPIError,
    Sync2BooksError,
    ValidationFailedError,
)

log = logging.getLogger(__name__)


class Refusal(Exception):
    """The request was not carried out; ``str(refusal)`` is the sentence to show the user."""


class NotLinked(Refusal):
    """The channel is not linked to a company (and the command needs one)."""


def backend_trouble(exc: Sync2BooksError, backend: str, doing: str, missing: str = "it") -> Refusal:
    """A Sync2Books (or Codat) failure as a refusal a finance person can act on; details go to the log."""
    log.warning("%s failed while %s: %s", backend, doing, exc)
    if isinstance(exc, ValidationFailedError):
        problems = "; ".join(f"{d.field} {d.message}" for d in exc.details) or exc.message
        return Refusal(f"{backend} did not accept that: {problems}.")
    if isinstance(exc, NotFoundError):
        return Refusal(f"{backend} does not know {missing} (it may have been deleted).")
    if isinstance(exc, Sync2BooksAPIError) and exc.status in (401, 403):
        return Refusal(f"{backend} refused the bot's API key. An admin should check SYNC2BOOKS_API_KEY.")
    return Refusal(f"{backend} could not be reached while {doing}. Nothing was changed; please try again in a minute.")
