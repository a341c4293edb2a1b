"""Who may administer: workspace admins and owners, and the users listed in ADMIN_USER_IDS."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.ports import Directory
from bot.services.refusals import Refusal

CACHE_SECONDS = 300.0


class AccessPolicy:
    def __init__(
        self, directory: Directory, admin_user_ids: frozenset[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._directory = directory
        self._admins = admin_user_ids
        self._clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

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
