"""Sending what the bot owes its channels, each message once, about one a second per channel.

Announcements are claimed under a lease. A sender that dies after posting but before recording it
leaves the lease to run out; whoever claims it next first looks in the channel for a message stamped
with its key, and records that one instead of posting again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from bot import metrics
from bot.messages import AuthLinks as LinksMessage
from bot.messages import InviteNeeded, Message, dump, expect, load
from bot.ports import DeliveryFailed, NotAMember, Notifier
from bot.services.membership import INVITE_NEEDED, invite_key
from bot.services.work import AroundSend
from storage.db import Database
from storage.repositories import Announcements, AuthLinks, ClaimLost, Companies
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
# At most this many announcements said by one summary (its payload stays small; the rest make the next one).
MAX_FOLDED = 500


class _NothingAround(AroundSend):
    pass


NOTHING_AROUND = _NothingAround()


class LinkMessageRecorded(AroundSend):
    """Once the links are posted, each remembers its message: the watcher edits it once a link is used or expires."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def after_send(self, message: Message, ts: str) -> None:
        links = expect(message, LinksMessage).links
        async with self._db.session() as session:
            await AuthLinks(session).set_message([link.id for link in links], ts)


@dataclass(frozen=True)
class Flood:
    """This many announcements of one kind waiting for one channel go out as one ``summary_kind`` message.

    Outcomes told one by one (webhooks) pile up behind the channel's pace of a message a second; whatever is
    waiting when the sender comes to the channel is said at once, in one summary.
    """

    summary_kind: str
    at_least: int


class AnnouncementSender:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        *,
        pace: float = SECONDS_PER_CHANNEL_MESSAGE,
        clock: Callable[[], float] = time.monotonic,
        around_send: Mapping[str, AroundSend] | None = None,
        floods: dict[str, Flood] | None = None,
    ) -> None:
        """``around_send``: per kind, what is done just before and just after its post (AroundSend)."""
        self._db = db
        self._notifier = notifier
        self._around_send: dict[str, AroundSend] = {"auth_links": LinkMessageRecorded(db), **(around_send or {})}
        self._floods = floods or {}
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
            sent = 0
            while queue:
                announcement = queue.pop(0)
                flood = self._floods.get(announcement.kind)
                # Only first tries: one tried before may have been posted already, unrecorded (found by its key).
                if flood is None or announcement.attempts != 1:
                    sent += await self._send(announcement)
                    continue
                await self._wait_turn(announcement.channel_id)  # while it waits, more of its kind may pile up
                sent += await self._send(await self._fold(announcement, flood, queue), turn_taken=True)
            return sent

    async def _fold(self, first: Announcement, flood: Flood, queue: list[Announcement]) -> Announcement:
        """``first``, or, with enough of its kind waiting for the channel, the summary that says them all.

        What waits is the rest of this pass's queue and whatever arrived since the pass began.
        """
        channel, kind = first.channel_id, first.kind
        same = [a for a in queue if a.kind == kind and a.attempts == 1][: MAX_FOLDED - 1]
        async with self._db.session() as session:
            arrived = await Announcements(session).claim_new(
                channel, kind, limit=MAX_FOLDED - 1 - len(same), lease=LEASE
            )
        folded = [first, *same, *arrived]
        if len(folded) < flood.at_least:
            queue.extend(arrived)
            return first
        said = load(flood.summary_kind, {"outcomes": [announcement.payload for announcement in folded]})
        try:
            async with self._db.session() as session:
                summary = await Announcements(session).summarize(
                    folded, f"summary:{first.key}", said.KIND, dump(said), lease=LEASE
                )
        except ClaimLost:  # another sender took one of them (a lease ran out): each goes out alone
            queue.extend(arrived)
            return first
        metrics.ANNOUNCEMENTS.labels("summarized").inc(len(folded))
        covered = {a.key for a in same}
        queue[:] = [a for a in queue if a.key not in covered]
        return summary

    async def _send(self, announcement: Announcement, *, turn_taken: bool = False) -> int:
        key, channel, kind = announcement.key, announcement.channel_id, announcement.kind
        message = load(kind, announcement.payload)
        around = self._around_send.get(kind, NOTHING_AROUND)
        try:
            message = await around.before_send(message)
            ts = await self._notifier.find_delivered(channel, key) if announcement.attempts > 1 else None
            if ts is None:
                if not turn_taken:
                    await self._wait_turn(channel)
                ts = await self._notifier.deliver(channel, message, key)
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
        await around.after_send(message, ts)
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
                invite = InviteNeeded(channel_id=channel)
                await Announcements(session).owe(invite_key(channel, asker), asker, invite.KIND, dump(invite))

    async def _wait_turn(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            pause = self._pace - (self._clock() - last)
            if pause > 0:
                await asyncio.sleep(pause)
        self._last_post[channel] = self._clock()
