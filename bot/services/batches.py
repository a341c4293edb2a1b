"""Watching sync batches: one ``updatedSince`` listing per look, whatever the number of open batches.

Each look reads every batch that changed since the last one (a few requests of 500), records each
expense's new status, and owes the channel one message per finished expense — or, when many finish in
one channel at once, one summary instead of a flood. The cursor is kept in the database and moved only
after what it covers is recorded, so a restart or an API fault never loses a transition.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot import metrics
from bot.backend import BatchExpense, ExpenseSyncBackend, ExpenseSyncError, OpenBatch, SyncBatch
from bot.messages import ExpenseOutcome, OutcomeSummary, dump
from bot.services.work import ExpenseMessageRefresh, WorkToSend
from storage.db import Database
from storage.repositories import FINISHED, Announcements, BatchMove, Expenses, WatchCursors
from storage.tables import OutboxExpense, utcnow

log = logging.getLogger(__name__)

CURSOR = "sync_batches"
# This many outcomes in one channel in one look become one summary message: at about a message a second
# per channel, three messages already keep the last one waiting two seconds.
SUMMARY_AT = 3
# An open batch the listing has not mentioned for this long is asked about directly.
ASK_DIRECTLY_AFTER = timedelta(minutes=5)
MAX_SKIPPED_LOOKS = 8
# Webhook deliveries arriving within this long of each other are recorded in one go.
GATHER_SECONDS = 0.05
SETTLE_SECONDS = 5.0

WHAT_TO_DO = {
    "account_not_found": "Choose an account that exists in the books.",
    "tax_rate_not_found": "Choose a tax rate that exists in the books.",
    "contact_not_found": "Choose a supplier or customer that exists in the books.",
    "bank_account_not_found": "Choose a bank account that exists in the books.",
    "tracking_category_not_found": "Choose tracking categories that exist in the books.",
    "missing_bank_account": "Choose the bank account it was paid from, or ask an admin to set the company's default.",
    "connection_disconnected": "The accounting software was disconnected: reconnect it, then retry.",
    "connection_error": "The accounting software must be authorized again: then retry.",
    "platform_error": "The accounting software refused it as it is.",
    # Codat's: a sync that failed on the company's setup (4xxx) or on the way to the books (5xxx).
    "sync_setup_error": "An admin should check the connection and the company's expense settings, then retry.",
    "sync_failed": "Retry in a while; if it fails again, an admin should look at the connection.",
}


def plain_error(code: str | None, message: str | None) -> str:
    """A failed expense's error in words a finance person can act on, never a bare code."""
    told = (message or "").rstrip(".")
    advice = WHAT_TO_DO.get(code or "", "")
    if told and advice:
        return f"{told}. {advice}"
    return told or advice or "The accounting software refused it."


class BatchWatcher:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        messages: ExpenseMessageRefresh,
        work: WorkToSend,
    ) -> None:
        self._db = db
        self._backend = backend
        self._messages = messages
        self._work = work
        self._failures = 0
        self._skip = 0
        self._waiting: list[tuple[list[SyncBatch], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._to_refresh: dict[str, None] = {}  # an ordered set
        self._refreshing: asyncio.Task[None] | None = None

    async def watch_sync_batches(self) -> int:
        """One look; answers how many messages it came to owe."""
        if self._skip:
            self._skip -= 1  # backing off after a failed look
            return 0
        async with self._db.session() as session:
            since = await WatchCursors(session).position(CURSOR)
        changed: list[SyncBatch] = []
        try:
            async for batch in self._backend.changed_batches(since, await self._open_batches()):
                changed.append(batch)
        except ExpenseSyncError as exc:
            # What was read is in order of change, so it can be recorded and the cursor moved past it.
            self._failures += 1
            self._skip = min(MAX_SKIPPED_LOOKS, 2 ** (self._failures - 1))
            log.warning(
                "could not list the changed sync batches (%s); going on from there in %d look(s)", exc, self._skip + 1
            )
        else:
            self._failures = 0
        changed += await self._ask_directly({b.id for b in changed})
        owed = await self._record(changed)
        listed = [b.updated_at for b in changed]
        if listed:
            await self._move_cursor(max(listed))
        if owed:
            self._work.announcements_owed()
        metrics.look_finished("batches")
        return owed

    async def record(self, batches: list[SyncBatch]) -> None:
        """What a webhook told: recorded and owed exactly as a look's findings, so the two never both announce.

        Deliveries arriving together are recorded together (one unit of work for all, and one summary for a
        channel where several end at once); each caller returns once its batches are recorded.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((batches, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._waiting:
            await asyncio.sleep(GATHER_SECONDS)
            taken, self._waiting = self._waiting, []
            try:
                owed = await self._record([b for batches, _ in taken for b in batches], source="webhook")
            except Exception as exc:  # each caller hears it and answers the sender so that it retries
                for _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                continue
            if owed:
                self._work.announcements_owed()
            for _, done in taken:
                if not done.done():
                    done.set_result(None)

    async def _open_batches(self) -> list[OpenBatch]:
        """Every batch the bot still waits on, one row each (a service that lists per company needs them)."""
        async with self._db.session() as session:
            rows = await Expenses(session).open_batches()
        return [OpenBatch(batch, company, connection) for batch, company, connection in rows if batch]

    async def _ask_directly(self, already: set[str]) -> list[SyncBatch]:
        """Open batches the listing has been silent about for a while (a clock the list cannot see past)."""
        stale = utcnow() - ASK_DIRECTLY_AFTER
        async with self._db.session() as session:
            quiet = await Expenses(session).open_batches_unchanged_since(stale)
        batches = {b: c for b, c in quiet if b and b not in already}
        found = []
        for batch_id in sorted(batches):
            try:
                found.append(await self._backend.sync_batch(batches[batch_id], batch_id))
            except ExpenseSyncError as exc:
                log.warning("could not look at sync batch %s (%s)", batch_id, exc)
        return found

    async def _move_cursor(self, position: datetime) -> None:
        async with self._db.session() as session:
            await WatchCursors(session).advance(CURSOR, position)

    async def _record(self, batches: list[SyncBatch], source: str = "look") -> int:
        if not batches:
            return 0
        by_id = {b.id: b for b in batches}  # a batch listed twice: its latest state wins
        outcomes: dict[str, list[tuple[OutboxExpense, BatchExpense, SyncBatch]]] = {}
        changed: list[str] = []
        lagged: set[str] = set()  # batches whose end this call is the first to record
        owed = 0
        async with self._db.session() as session:
            records = await Expenses(session).in_batches(list(by_id))
            moves: list[BatchMove] = []
            for record in records:
                batch = by_id[record.sync_batch_id or ""]
                item = next((e for e in batch.expenses if e.id == record.id), None)
                if item is None:
                    continue
                if record.status != item.status.value:
                    if batch.status.is_terminal and batch.id not in lagged:
                        lagged.add(batch.id)
                        ended = batch.completed_at or batch.updated_at
                        metrics.WATCHER_LAG.labels(source).observe(max(0.0, (utcnow() - ended).total_seconds()))
                    changed.append(record.id)
                    moves.append(
                        BatchMove(
                            expense_id=record.id,
                            batch_id=batch.id,
                            status=item.status.value,
                            accounting_id=item.accounting_id,
                            error_message=item.error.message if item.error else None,
                            at=utcnow(),
                        )
                    )
                if batch.status.is_terminal and item.status.value in FINISHED:
                    outcomes.setdefault(record.channel_id, []).append((record, item, batch))
            await Expenses(session).record_moves(moves)  # one statement for the lot
            announcements = Announcements(session)
            for channel, finished in outcomes.items():
                summarize = len(finished) >= SUMMARY_AT
                told = {
                    f"outcome:{record.id}:{batch.id}": _outcome(record, item, batch) for record, item, batch in finished
                }
                rows = [
                    {"key": key, "channel_id": channel, "kind": outcome.KIND, "payload": dump(outcome)}
                    for key, outcome in told.items()
                ]
                new = await announcements.owe_many(rows, covered=summarize)
                said = [outcome for key, outcome in told.items() if key in new]
                if summarize and said:
                    key = f"summary:{channel}:{said[0].expense_id}:{said[0].batch_id}"
                    together = OutcomeSummary(outcomes=said)
                    owed += await announcements.owe(key, channel, together.KIND, dump(together))
                elif said:
                    owed += len(said)
        self._refresh_later(changed)
        return owed

    def _refresh_later(self, expense_ids: list[str]) -> None:
        """Each changed expense's message edited to its new status, after the outcomes are owed, not before.

        A thousand edits one after another took seconds; done inline they held up every webhook answer and so
        the outcomes behind them. One worker edits them in order, each once however often it changed meanwhile.
        """
        self._to_refresh.update(dict.fromkeys(expense_ids))
        if self._to_refresh and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh_waiting())

    async def _refresh_waiting(self) -> None:
        while self._to_refresh:
            expense_id = next(iter(self._to_refresh))
            del self._to_refresh[expense_id]
            try:
                async with self._db.session() as session:
                    current = await Expenses(session).get(expense_id)
                if current is not None:
                    await self._messages.refresh(current)
            except Exception as exc:  # a stale message is the only cost; the next change edits it again
                log.warning("could not edit the message of expense %s: %s: %s", expense_id, type(exc).__name__, exc)

    async def settle(self) -> None:
        """At stop: let the edits under way finish (briefly; what is left only leaves a message stale)."""
        if self._refreshing is not None and not self._refreshing.done():
            _, late = await asyncio.wait([self._refreshing], timeout=SETTLE_SECONDS)
            for task in late:
                task.cancel()


def _outcome(record: OutboxExpense, item: BatchExpense, batch: SyncBatch) -> ExpenseOutcome:
    from bot.services.expenses import summary

    return ExpenseOutcome(
        **{
            **summary(record).model_dump(),
            "batch_id": batch.id,
            "batch_status": batch.status.value,
            "status": item.status.value,
            "accounting_id": item.accounting_id,
            "error_message": plain_error(item.error.code, item.error.message) if item.error else None,
            "thread_ts": record.message_ts,
        }
    )
