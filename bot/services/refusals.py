"""What a service says when it will not do something: plain words for the person who asked."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.backend import ExpenseSyncBackend, ExpenseSyncError, KeyRefused, NotFound, Rejected

log = logging.getLogger(__name__)


class Refusal(Exception):
    """The request was not carried out; ``str(refusal)`` is the sentence to show the user.

    ``template`` is ours and may use mrkdwn; ``values`` come from outside (names, what was typed, a
    service's error) and fill its ``{placeholders}``. They are kept apart so that the Slack builders can
    escape exactly the outside part where the refusal is shown.
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = {name: str(value) for name, value in values.items()}
        super().__init__(template.format(**self.values) if values else template)

    def shown(self, escape: Callable[[str], str]) -> str:
        """The sentence with every outside value passed through ``escape``."""
        if not self.values:
            return self.template
        return self.template.format(**{name: escape(value) for name, value in self.values.items()})


class Unreadable(Refusal):
    """What Slack sent could not be read (a field missing or of the wrong type): nothing was done."""

    def __init__(self) -> None:
        super().__init__("Sync2Books could not read what Slack sent, so nothing was done. Please try again.")


class NotLinked(Refusal):
    """The channel is not linked to a company (and the command needs one)."""


def backend_trouble(exc: ExpenseSyncError, service: ExpenseSyncBackend, doing: str, missing: str = "it") -> Refusal:
    """A Sync2Books (or Codat) failure as a refusal a finance person can act on; details go to the log."""
    backend = service.name
    log.warning("%s failed while %s: %s", backend, doing, exc)
    if isinstance(exc, Rejected):
        problems = "; ".join(f"{d.field} {d.message}" for d in exc.details) or exc.message
        return Refusal(f"{backend} did not accept that: {{problems}}.", problems=problems)
    if isinstance(exc, NotFound):
        return Refusal(f"{backend} does not know {missing} (it may have been deleted).")
    if isinstance(exc, KeyRefused):
        return Refusal(f"{backend} refused the bot's API key. An admin should check {service.key_variable}.")
    return Refusal(f"{backend} could not be reached while {doing}. Nothing was changed; please try again in a minute.")
