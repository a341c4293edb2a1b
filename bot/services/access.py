"""Who may do what: admins (workspace admins and owners, and the users listed in ADMIN_USER_IDS) administer;
the members of a company's channels, and admins, act on that company.

Ids in a payload (a modal's metadata, a button's value) are what the person claims, not proof: every
action on a company, its connections or its expenses asks here first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from bot.ports import Directory
from bot.services.refusals import Refusal

CACHE_SECONDS = 300.0
# Short: someone removed from a channel loses its company within a minute.
MEMBERSHIP_SECONDS = 60.0
NO_ACCESS = "You are not in a channel of that company, so nothing was done."


class AccessPolicy:
    def __init__(
        self, directory: Directory, admin_user_ids: frozenset[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._admins = admin_user_ids
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}
        self._channels: dict[str, tuple[float, frozenset[str]]] = {}

    async def is_admin(self, user_id: str) -> bool:
        if user_id in self._admins:
            return True
        cached = self._cache.get(user_id)
        if cached and self._clock() - cached[0] < CACHE_SECONDS:
            return cached[1]
        user = await self._directory.user(user_id)
        allowed = user.is_admin or user.is_owner
        self._cache[user_id] = (self._clock(), allowed)
        return allowed

    async def require_admin(self, user_id: str, doing: str) -> None:
        if not await self.is_admin(user_id):
            raise Refusal(
                f"Only workspace admins and owners (or people listed in ADMIN_USER_IDS) can {doing}. "
                "Nothing was changed."
            )

    async def channels_of(self, user_id: str, *, fresh: bool = False) -> frozenset[str]:
        """The conversations the user is in (as the bot can see them), asked of Slack once a minute."""
        cached = self._channels.get(user_id)
        if cached and not fresh and self._clock() - cached[0] < MEMBERSHIP_SECONDS:
            return cached[1]
        channels = frozenset(await self._directory.channels_of(user_id))
        self._channels[user_id] = (self._clock(), channels)
        return channels

    async def may_act_in(self, user_id: str, channel_ids: Iterable[str]) -> bool:
        """True for a member of one of these channels, and for an admin."""
        wanted = set(channel_ids)
        if wanted & await self.channels_of(user_id):
            return True
        # Someone who joined a channel a moment ago is not refused on a stale answer.
        return bool(wanted & await self.channels_of(user_id, fresh=True)) or await self.is_admin(user_id)

    async def require_member(self, user_id: str, channel_ids: Iterable[str], refusal: str = NO_ACCESS) -> None:
        if not await self.may_act_in(user_id, channel_ids):
            raise Refusal(refusal)
