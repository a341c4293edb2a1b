"""The expense outbox and its receipts on SQLite and PostgreSQL: stored once, claimed under a lease, followed
through their sync batches, and counted for the gauges."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.repositories import FINISHED, Announcements, BatchMove, Companies, Expenses, Receipts, StoreConflict
from storage.states import OutboxState, ReceiptState
from storage.tables import CompanyRecord, OutboxExpense, utcnow
from tests.storage.claims import claimed_side_by_side


def expense(expense_id: str, *, submission: str | None = None, **values: object) -> OutboxExpense:
    now = utcnow()
    fields: dict[str, object] = {
        "id": expense_id,
        "company_id": "c1",
        "connection_id": "n1",
        "channel_id": "C1",
        "submitted_by": "U1",
        "submission_key": submission or f"view:{expense_id}",
        "body": json.dumps({"id": expense_id}),
        "currency": "GBP",
        "total": "12.00",
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    return OutboxExpense(**(fields | values))


async def stored(database: Database, *expenses: OutboxExpense) -> None:
    async with database.session() as session:
        if await Companies(session).get("c1") is None:
            await Companies(session).save(CompanyRecord(id="c1", name="Acme", registered_by="U1", created_at=utcnow()))
        for record in expenses:
            await Expenses(session).add(record)


async def test_an_expense_is_stored_once_per_submission_and_found_by_it(database: Database) -> None:
    await stored(database, expense("e1", submission="view:V1"))
    with pytest.raises(StoreConflict):
        await stored(database, expense("e2", submission="view:V1"))  # the same view delivered twice
    async with database.session() as session:
        found = await Expenses(session).by_submission("view:V1")
        assert found is not None
        assert (found.id, found.state) == ("e1", OutboxState.WAITING)
        assert isinstance(found.state, OutboxState)  # loaded as the enum, stored as the word
        assert await Expenses(session).by_submission("view:V2") is None
        assert await Expenses(session).get("e2") is None
        stored_word = (await session.execute(text("SELECT state FROM expenses WHERE id = 'e1'"))).scalar_one()
        assert stored_word == "waiting"


async def test_due_expenses_are_claimed_once_under_a_lease(database: Database) -> None:
    later = utcnow() + timedelta(hours=1)
    await stored(database, expense("e1"), expense("e2"), expense("e3", next_attempt_at=later))
    async with database.session() as session:
        claimed = await Expenses(session).claim_due(limit=10, lease=timedelta(minutes=1))
    assert sorted(e.id for e in claimed) == ["e1", "e2"]  # e3 is not due yet
    assert {(e.state, e.attempts) for e in claimed} == {(OutboxState.SENDING, 1)}
    async with database.session() as session:
        assert await Expenses(session).claim_due(limit=10, lease=timedelta(minutes=1)) == []  # leased
        await session.execute(text("UPDATE expenses SET lease_until = :past"), {"past": utcnow() - timedelta(1)})
    async with database.session() as session:
        again = await Expenses(session).claim_due(limit=1, lease=timedelta(minutes=1))  # the lease ran out
        assert [(e.id, e.attempts) for e in again] == [("e1", 2)]


async def test_concurrent_claims_never_take_the_same_expense(database: Database) -> None:
    await stored(database, *(expense(f"e{n:02d}") for n in range(30)))

    async def claim(session: AsyncSession) -> list[str]:
        return [e.id for e in await Expenses(session).claim_due(limit=2, lease=timedelta(minutes=5))]

    assert sorted(await claimed_side_by_side(database, claim)) == [f"e{n:02d}" for n in range(30)]


async def test_what_the_service_answers_moves_each_expense_and_a_fix_sends_it_again(database: Database) -> None:
    await stored(database, expense("e1"), expense("e2"), expense("e3"))
    soon = utcnow() + timedelta(seconds=30)
    async with database.session() as session:
        expenses = Expenses(session)
        await expenses.claim_due(limit=10, lease=timedelta(minutes=1))
        await expenses.mark_accepted("e1", "QUEUED", "b1")
        await expenses.reject("e2", "Sync2Books refused it: netAmount must be positive")
        await expenses.retry_at("e3", soon)
        await expenses.set_message("e1", "111.222")
    async with database.session() as session:
        e1, e2, e3 = [await Expenses(session).get(i) for i in ("e1", "e2", "e3")]
        assert e1 is not None and e2 is not None and e3 is not None
        assert (e1.state, e1.status, e1.sync_batch_id, e1.lease_until, e1.message_ts) == (
            OutboxState.ACCEPTED,
            "QUEUED",
            "b1",
            None,
            "111.222",
        )
        assert (e2.state, e2.error_message) == (
            OutboxState.REJECTED,
            "Sync2Books refused it: netAmount must be positive",
        )
        assert (e3.state, e3.lease_until, e3.next_attempt_at) == (OutboxState.WAITING, None, soon)
        assert await Expenses(session).with_message("C1", "111.222") == e1
        assert await Expenses(session).with_message("C2", "111.222") is None
        Expenses(session).send_again(e2, body='{"id": "e2", "fixed": true}', currency="EUR", total="9.00", merchant="X")
    async with database.session() as session:
        fixed = await Expenses(session).get("e2")
        assert fixed is not None
        assert (fixed.state, fixed.body, fixed.currency, fixed.total, fixed.error_message, fixed.attempts) == (
            OutboxState.WAITING,
            '{"id": "e2", "fixed": true}',
            "EUR",
            "9.00",
            None,
            0,
        )
        assert sorted(e.id for e in await Expenses(session).get_many(["e1", "e2", "e9"])) == ["e1", "e2"]


async def test_open_batches_are_followed_until_each_expense_finishes(database: Database) -> None:
    long_ago = utcnow() - timedelta(hours=1)
    await stored(
        database,
        expense("e1", state=OutboxState.ACCEPTED, status="QUEUED", sync_batch_id="b1"),
        expense("e2", state=OutboxState.ACCEPTED, status="PROCESSING", sync_batch_id="b1"),
        expense("e3", state=OutboxState.ACCEPTED, status="QUEUED", sync_batch_id="b2", updated_at=long_ago),
        expense("e4", state=OutboxState.ACCEPTED, status="SYNCED", sync_batch_id="b3"),
        expense("e5"),  # still in the outbox
    )
    async with database.session() as session:
        expenses = Expenses(session)
        assert sorted(await expenses.open_batches()) == [("b1", "c1", "n1"), ("b2", "c1", "n1")]
        assert await expenses.open_batches_unchanged_since(utcnow() - timedelta(minutes=5)) == [("b2", "c1")]
        assert await expenses.open_batch_count() == 2
        assert sorted(e.id for e in await expenses.in_batches(["b1", "b3", "b9"])) == ["e1", "e2", "e4"]
        now = utcnow()
        await expenses.record_moves(
            [
                BatchMove("e1", "b1", "SYNCED", "acc-1", None, now),
                BatchMove("e2", "b1", "FAILED", None, "Account not found", now),
                BatchMove("e3", "b9", "SYNCED", "acc-3", None, now),  # not its batch (sent again since): no move
            ]
        )
    async with database.session() as session:
        e1, e2, e3 = [await Expenses(session).get(i) for i in ("e1", "e2", "e3")]
        assert e1 is not None and e2 is not None and e3 is not None
        assert (e1.status, e1.accounting_id, e1.updated_at) == ("SYNCED", "acc-1", now)
        assert (e2.status, e2.error_message) == ("FAILED", "Account not found")
        assert (e3.status, e3.accounting_id) == ("QUEUED", None)
        assert await Expenses(session).open_batches() == [("b2", "c1", "n1")]
    assert {"SYNCED", "FAILED"} == FINISHED


async def test_many_batches_are_read_and_moved_in_one_go(database: Database) -> None:
    await stored(
        database,
        *(
            expense(f"e{n:04d}", state=OutboxState.ACCEPTED, status="QUEUED", sync_batch_id=f"b{n}")
            for n in range(1200)
        ),
    )
    async with database.session() as session:
        found = await Expenses(session).in_batches([f"b{n}" for n in range(1200)])
        assert len(found) == 1200
        now = utcnow()
        await Expenses(session).record_moves(
            [BatchMove(e.id, e.sync_batch_id or "", "SYNCED", None, None, now) for e in found]
        )
    async with database.session() as session:
        assert await Expenses(session).open_batch_count() == 0


async def test_the_latest_expenses_of_a_company_and_of_a_person(database: Database) -> None:
    start = utcnow() - timedelta(minutes=10)
    await stored(
        database,
        *(
            expense(
                f"e{n}",
                submitted_by="U1" if n % 2 else "U2",
                created_at=start + timedelta(minutes=n),
                updated_at=start + timedelta(minutes=10 - n),
            )
            for n in range(5)
        ),
    )
    async with database.session() as session:
        assert [e.id for e in await Expenses(session).recent_by("U1", 10)] == ["e3", "e1"]
        assert [e.id for e in await Expenses(session).recent_of_company("c1", 3)] == ["e0", "e1", "e2"]


async def test_a_receipt_is_recorded_once_and_uploaded_once_its_expense_is_accepted(database: Database) -> None:
    await stored(database, expense("e1"), expense("e2", state=OutboxState.ACCEPTED, status="QUEUED"))
    async with database.session() as session:
        e1, e2 = await Expenses(session).get("e1"), await Expenses(session).get("e2")
        assert e1 is not None and e2 is not None
        Receipts(session).add_to_new(e1, ["F1"], "U1")
        assert await Receipts(session).attach_once(e2, "F2", "U2")
        assert not await Receipts(session).attach_once(e2, "F2", "U2")  # twice changes nothing
        assert await Receipts(session).attach_once(e2, "F3", "U2")
    async with database.session() as session:
        due = await Receipts(session).due_for_upload(after_sync=False, limit=50)
        assert [(r.slack_file_id, e.id, r.state) for r, e in due] == [
            ("F2", "e2", ReceiptState.WAITING),
            ("F3", "e2", "waiting"),
        ]
        assert await Receipts(session).due_for_upload(after_sync=True, limit=50) == []  # not booked yet
        assert len(await Receipts(session).due_for_upload(after_sync=False, limit=1)) == 1
        f2, f3 = (receipt for receipt, _ in due)
        await Receipts(session).uploaded(f2.id, attachment_id="att1", sha256="ab" * 32, file_name="taxi.pdf")
        await Receipts(session).retry_at(f3.id, utcnow() + timedelta(minutes=1), attempts=1, reason="Slack is slow")
    async with database.session() as session:
        assert await Receipts(session).due_for_upload(after_sync=False, limit=50) == []
        backlog = await Receipts(session).waiting()
        assert backlog.count == 2  # F1 (its expense is not accepted yet) and F3 (tried again in a minute)
        await Receipts(session).give_up(f3.id, "I could not attach a receipt to this expense: too large.")
        await session.execute(text("UPDATE expenses SET status = 'SYNCED'"))
    async with database.session() as session:
        assert await Receipts(session).due_for_upload(after_sync=True, limit=50) == []  # F3 failed, F2 uploaded
        states = dict((await session.execute(text("SELECT slack_file_id, state FROM receipts"))).all())
        assert states == {"F1": "waiting", "F2": "uploaded", "F3": "failed"}


async def test_the_backlogs_count_what_waits_and_say_since_when(database: Database) -> None:
    async with database.session() as session:
        for backlog in (
            await Announcements(session).waiting(),
            await Expenses(session).waiting(),
            await Receipts(session).waiting(),
        ):
            assert (backlog.count, backlog.oldest) == (0, None)
    first = utcnow() - timedelta(minutes=3)
    await stored(
        database,
        expense("e1", created_at=first),
        expense("e2"),
        expense("e3", state=OutboxState.ACCEPTED, status="QUEUED", sync_batch_id="b1", created_at=first - timedelta(1)),
    )
    async with database.session() as session:
        await Announcements(session).owe("k1", "C1", "test", {})
        waiting = await Expenses(session).waiting()
        assert waiting.count == 2
        assert waiting.oldest is not None and abs(waiting.oldest - first) < timedelta(milliseconds=1)
        assert waiting.oldest.tzinfo is not None
    async with database.session() as session:
        announcements = await Announcements(session).waiting()
        assert announcements.count == 1 and announcements.oldest is not None
