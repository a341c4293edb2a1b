"""The bot in the channels it posts to: what it owes a channel it is not in waits there until it is invited."""

from __future__ import annotations

import logging
from collections.abc import Callable

from storage.db import Database
from storage.repositories import Announcements

log = logging.getLogger(__name__)


class Membership:
    def __init__(self, db: Database, kick: Callable[[], None]) -> None:
        self._db = db
        self._kick = kick

    async def bot_joined(self, channel_id: str) -> int:
        """The bot was invited to ``channel_id``: everything waiting for it there is sent now, each once."""
        async with self._db.session() as session:
            resumed = await Announcements(session).resume_channel(channel_id)
        if resumed:
            log.info("invited to %s: %d message(s) waiting there go out now", channel_id, resumed)
            self._kick()
        return resumed
