"""The bot in the channels it posts to: what it owes a channel it is not in waits there until it is invited."""

from __future__ import annotations

import logging

from bot.messages import InviteNeeded, dump
from bot.ports import Directory
from bot.services.work import WorkToSend
from storage.db import Database
from storage.repositories import Announcements

INVITE_NEEDED = InviteNeeded.KIND

log = logging.getLogger(__name__)


class Membership:
    def __init__(self, db: Database, directory: Directory, work: WorkToSend) -> None:
        self._db = db
        self._directory = directory
        self._work = work

    async def check_member(self, channel_id: str, user_id: str) -> bool:
        """Whether the bot is in the channel. When it is not, the caller tells the person now, and this records
        that they were told, so that the direct message the first refused post would send is not sent too."""
        if channel_id.startswith("D") or await self._directory.bot_is_member(channel_id):
            return True
        async with self._db.session() as session:
            invite = InviteNeeded(channel_id=channel_id)
            await Announcements(session).owe(
                invite_key(channel_id, user_id), user_id, invite.KIND, dump(invite), covered=True
            )
        return False

    async def bot_joined(self, channel_id: str) -> int:
        """The bot was invited to ``channel_id``: everything waiting for it there is sent now, each once."""
        async with self._db.session() as session:
            resumed = await Announcements(session).resume_channel(channel_id)
        if resumed:
            log.info("invited to %s: %d message(s) waiting there go out now", channel_id, resumed)
            self._work.announcements_owed()
        return resumed


def invite_key(channel_id: str, user_id: str) -> str:
    """The fact "this person was told to invite the bot to this channel", said once."""
    return f"{INVITE_NEEDED}:{channel_id}:{user_id}"
