"""What the bot's services need from Slack, as interfaces: a directory of people and a way to post.

The Slack adapters live in ``bot/slack.py``; services never build Block Kit or call the Web API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.messages import Message


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    is_admin: bool
    is_owner: bool


class Directory(Protocol):
    async def user(self, user_id: str) -> SlackUser: ...

    async def channels_of(self, user_id: str) -> list[str]:
        """Conversations the user is a member of (that the bot can see)."""
        ...

    async def bot_is_member(self, channel_id: str) -> bool:
        """Whether the bot can post in the channel (a private channel it is not in is not there for it)."""
        ...


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    size: int
    download_url: str


class FileUnavailable(Exception):
    """A Slack file that could not be had; ``permanent`` when asking again cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Files(Protocol):
    async def info(self, file_id: str) -> SlackFile: ...

    async def download(self, file: SlackFile) -> bytes:
        """The file's bytes, fetched with the bot token; raises FileUnavailable (a sign-in page is not a file)."""
        ...


class DeliveryFailed(Exception):
    """A message Slack would not take; ``permanent`` when trying again cannot help (channel gone)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class NotAMember(DeliveryFailed):
    """The bot is not in the channel: the message stays owed until it is invited."""

    def __init__(self, reason: str = "not_in_channel") -> None:
        super().__init__(reason, permanent=False)


class Notifier(Protocol):
    """Posts what the bot owes a channel; ``key`` is stamped on the message so a re-send can find it."""

    async def deliver(self, channel_id: str, message: Message, key: str) -> str:
        """Post the message (drawn for its kind) and answer its ts; raises DeliveryFailed."""
        ...

    async def find_delivered(self, channel_id: str, key: str) -> str | None:
        """The ts of a message already stamped with ``key`` in the channel, if one was posted."""
        ...

    async def update(self, channel_id: str, ts: str, message: Message) -> None:
        """Rewrite a message the bot posted (an expense's, as its status moves); failures are only logged."""
        ...
