"""Sending what the bot owes its channels, each message once, about one a second per channel.

Announcements are claimed under a lease. A sender that dies after posting but before recording it
leaves the lease to run out; whoever claims it next first looks in the channel for a message stamped
with its key, and records that one instead of posting again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot import metrics
from bot.ports import DeliveryFailed, NotAMember, Notifier
from bot.services.membership import INVITE_NEEDED, invite_key
from storage.db import Database
from storage.repositories import Announcements, AuthLinks, Companies
from storage.tables import Announcement, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
BATCH = 200
# Channels are paced one by one (about a message a second each), but sent to side by side, so that a busy
# channel never holds up the others.
CHANNELS_AT_ONCE = 50
MAX_ATTEMPTS = 8
# A channel the bot is not in is looked at again this often, besides when the bot is invited there.
MEMBER_RECHECK = timedelta(minutes=10)
SECONDS_PER_CHANNEL_MESSAGE = 1.0

# Per kind: ``prepare`` rebuilds a payload from current state just before posting (an expense's status may
# have moved since it was owed); ``after_send`` records what the post made (the message's ts).
Prepare = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
AfterSend = Callable[[dict[str, Any], str], Awaitable[None]]


class AnnouncementSender:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        *,
        pace: float = SECONDS_PER_CHANNEL_MESSAGE,
        clock: Callable[[], float] = time.monotonic,
        prepare: dict[str, Prepare] | None = None,
        after_send: dict[str, AfterSend] | None = None,
    ) -> None:
        self._db = db
        self._notifier = notifier
        self._prepare = prepare or {}
        self._after_send = {"auth_links": self._remember_link_message, **(after_send or {})}
        self._pace = pace
        self._clock = clock
        self._last_post: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def send_due(self) -> int:
        """Send every announcement that is due; answers how many were sent (or found already sent)."""
        async with self._lock:  # one pass at a time in this process; other processes are kept out by leases
            sent = 0
            while True:
                async with self._db.session() as session:
                    claimed = await Announcements(session).claim(limit=BATCH, lease=LEASE)
                if not claimed:
                    return sent
                by_channel: dict[str, list[Announcement]] = {}
                for announcement in claimed:
                    by_channel.setdefault(announcement.channel_id, []).append(announcement)
                gate = asyncio.Semaphore(CHANNELS_AT_ONCE)
                sent += sum(await asyncio.gather(*(self._send_channel(queue, gate) for queue in by_channel.values())))

    async def _send_channel(self, queue: list[Announcement], gate: asyncio.Semaphore) -> int:
        async with gate:
            return sum([await self._send(announcement) for announcement in queue])

    async def _send(self, announcement: Announcement) -> int:
        key, channel, kind = announcement.key, announcement.channel_id, announcement.kind
        payload = announcement.payload
        try:
            if kind in self._prepare:
                payload = await self._prepare[kind](payload)
            ts = await self._notifier.find_delivered(channel, key) if announcement.attempts > 1 else None
            if ts is None:
                await self._wait_turn(channel)
                ts = await self._notifier.deliver(kind, channel, payload, key)
        except NotAMember:
            await self._await_member(announcement)
            return 0
        except DeliveryFailed as failure:
            async with self._db.session() as session:
                if failure.permanent or announcement.attempts >= MAX_ATTEMPTS:
                    log.error("giving up on %s in %s: %s", announcement.kind, channel, failure.reason)
                    await Announcements(session).give_up(key)
                    metrics.ANNOUNCEMENTS.labels("failed").inc()
                else:
                    metrics.ANNOUNCEMENTS.labels("retried").inc()
                    log.warning(
                        "could not post %s in %s (%s); will try again", announcement.kind, channel, failure.reason
                    )
                    await Announcements(session).release(key)
            return 0
        async with self._db.session() as session:
            await Announcements(session).sent(key, ts)
        metrics.ANNOUNCEMENTS.labels("sent").inc()
        if kind in self._after_send:
            await self._after_send[kind](payload, ts)
        return 1

    async def _await_member(self, announcement: Announcement) -> None:
        """Kept owed for when the bot is invited; the person who asked (or who linked the channel) is told once,
        in a direct message, to invite it."""
        channel = announcement.channel_id
        log.warning("not a member of %s: %s waits there until the bot is invited", channel, announcement.kind)
        async with self._db.session() as session:
            await Announcements(session).await_member(announcement.key, utcnow() + MEMBER_RECHECK)
            asker = announcement.payload.get("user_id") or await Companies(session).linked_by(channel)
            if isinstance(asker, str) and asker and announcement.kind != INVITE_NEEDED and channel != asker:
                await Announcements(session).owe(
                    invite_key(channel, asker), asker, INVITE_NEEDED, {"channel_id": channel}
                )

    async def _remember_link_message(self, payload: dict[str, Any], ts: str) -> None:
        """The watcher edits this message once a link is used or expires."""
        async with self._db.session() as session:
            await AuthLinks(session).set_message([link["id"] for link in payload["links"]], ts)

    async def _wait_turn(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            pause = self._pace - (self._clock() - last)
            if pause > 0:
                await asyncio.sleep(pause)
        self._last_post[channel] = self._clock()
