"""Batch outcomes: thread replies and message updates per terminal status, Fix and retry, summaries, 429s."""

from __future__ import annotations

import asyncio
from typing import Any

from sync2books.models import Connection, ExpenseStatus
from tests.support.bot import ADMIN, CHANNEL, RunningBot, bot_settings
from tests.support.expense_modal import company_with_xero, filled, open_expense_modal, selected
from tests.support.expenses import LedgerRefs
from tests.support.fake_slack import FakeSlack, text_of
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient


async def submit(
    bot: RunningBot, fake: FakeSlack, refs: LedgerRefs, view: dict[str, Any] | None = None, **changes: Any
) -> None:
    account = changes.pop("account", None)
    values = filled(refs, **changes)
    if account:
        values["line0_account"] = {"opt_account": selected(account)}
    view = view or await open_expense_modal(bot, fake)
    sent = await bot.sender.submit_view(user_id=ADMIN, callback_id="expense", values=values, view=view)
    assert sent.status_code == 200


def expense_message(fake: FakeSlack, merchant: str) -> dict[str, Any]:
    return next(m for m in fake.messages(CHANNEL) if f"submitted *{merchant}*" in text_of(m))


async def thread_reply(fake: FakeSlack, merchant: str, words: str, timeout: float = 20) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            try:
                parent = expense_message(fake, merchant)
            except StopIteration:
                parent = None
            if parent is not None:
                for reply in fake.thread(CHANNEL, parent["ts"]):
                    if words in text_of(reply):
                        return reply
            await asyncio.sleep(0.1)


async def test_completed_and_failed_each_get_their_reply_their_update_and_their_button(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, refs = await company_with_xero(bot, fake_slack, client)
    await submit(bot, fake_slack, refs, merchant="Good Lunch")
    done = await thread_reply(fake_slack, "Good Lunch", "is in the books")
    assert "*Good Lunch* (£1,481.40) is in the books as `" in text_of(done)
    assert "Fix and retry" not in text_of(done)

    await submit(bot, fake_slack, refs, merchant="Bad Taxi", account="acc-gone")
    failed = await thread_reply(fake_slack, "Bad Taxi", "did not sync")
    assert "Account 'acc-gone' does not exist in Xero (line 1). Choose an account that exists in the books." in text_of(
        failed
    )
    assert "account_not_found" not in text_of(failed)  # plain words, not a code
    assert "Fix and retry" in text_of(failed)
    await fake_slack.wait_for("chat.update", where=lambda c: "Sync failed" in text_of(c.params), timeout=10)
    assert "Sync failed" in text_of(expense_message(fake_slack, "Bad Taxi"))
    assert "In the books" in text_of(expense_message(fake_slack, "Good Lunch"))


async def test_a_partially_failed_batch_tells_each_expense_its_own_outcome(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    views = [await open_expense_modal(bot, fake_slack) for _ in range(3)]
    warmup, first, second = views
    await client.configure_sandbox(latency_ms=1500)
    # While the warm-up's request is in flight the next two wait together, and go as one batch.
    await submit(bot, fake_slack, refs, warmup, merchant="Warm Up")
    await asyncio.sleep(0.3)
    await asyncio.gather(
        submit(bot, fake_slack, refs, first, merchant="Half Good"),
        submit(bot, fake_slack, refs, second, merchant="Half Bad", account="acc-gone"),
    )
    await thread_reply(fake_slack, "Half Good", "is in the books", timeout=40)
    await thread_reply(fake_slack, "Half Bad", "did not sync", timeout=40)
    await client.configure_sandbox(latency_ms=0)
    batches = (await client.list_sync_batches(connection_id=connection.id)).results
    assert any(b.status.value == "PARTIALLY_FAILED" for b in batches), [b.status for b in batches]


async def test_fix_and_retry_completes_a_failed_expense_under_the_same_id(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    connection, refs = await company_with_xero(bot, fake_slack, client)
    await submit(bot, fake_slack, refs, merchant="Fixable", account="acc-gone")
    failed = await thread_reply(fake_slack, "Fixable", "did not sync")
    button = next(e for b in failed["blocks"] if b["type"] == "actions" for e in b["elements"])
    expense_id = button["value"]

    opened = len(fake_slack.calls_to("views.open"))
    await bot.sender.action(
        user_id=ADMIN, action_id="fix_and_retry", value=expense_id, channel_id=CHANNEL, message=failed
    )
    await fake_slack.wait_for("views.open", count=opened + 1)
    view = dict(fake_slack.views()[-1])
    assert view["title"]["text"] == "Fix and retry"
    merchant = next(b for b in view["blocks"] if b.get("block_id") == "merchant")
    assert merchant["element"]["initial_value"] == "Fixable"
    account = next(b for b in view["blocks"] if b.get("block_id") == "line0_account")
    assert account["element"]["initial_option"]["value"] == "acc-gone"

    fixed = await bot.sender.submit_view(
        user_id=ADMIN, callback_id="expense", values=filled(refs, merchant="Fixable"), view=view
    )
    assert fixed.status_code == 200
    await thread_reply(fake_slack, "Fixable", "is in the books", timeout=30)
    record = await client.get_expense(connection.id, expense_id)
    assert record.status == ExpenseStatus.SYNCED  # the same id, accepted again
    stored = [e.id async for b in client.iter_sync_batches(connection_id=connection.id) for e in b.expenses]
    assert stored.count(expense_id) == 2  # its failed batch, and the batch that synced it
    assert len(set(stored)) == 1


async def test_many_outcomes_at_once_make_one_summary_and_slack_429s_lose_nothing(
    fake_slack: FakeSlack, sandbox: SandboxServer, client: SandboxClient, bot_database: str
) -> None:
    settings = bot_settings(fake_slack, bot_database, sandbox.url, poll_interval_seconds=2.0)
    with RunningBot(settings, fake_slack) as bot:
        connection, refs = await company_with_xero(bot, fake_slack, client)
        await client.configure_sandbox(processing_delay_ms=600_000)  # hold every batch until all are in
        # A dozen is already a flood (messages go out about one a second a channel); a summary replaces it.
        for n in range(12):
            await submit(
                bot, fake_slack, refs, merchant=f"Shop {n:02d}", **({"account": "acc-gone"} if n % 4 == 0 else {})
            )
            await wait_accepted(sandbox, connection, n + 1)
        batches = (await client.list_sync_batches(connection_id=connection.id, page_size=100)).results
        assert len(batches) == 12  # one batch each: they end together
        await fake_slack.wait_for("chat.postMessage", count=15, timeout=60)  # every expense message is out
        fake_slack.rate_limit("chat.postMessage", retry_after=2, times=1)
        await client.configure_sandbox(processing_delay_ms=0)
        summaries = await fake_slack.wait_for(
            "chat.postMessage",
            where=lambda c: "expenses finished syncing" in text_of(c.params) and not c.rate_limited,
            timeout=60,
        )
        await asyncio.sleep(3.0)
    said = text_of(summaries[0].params)
    assert "*12 expenses finished syncing*: 9 in the books, 3 failed." in said
    assert said.count("Fix and retry") == 3
    assert (
        len(
            [
                c
                for c in fake_slack.calls_to("chat.postMessage")
                if "expenses finished syncing" in text_of(c.params) and not c.rate_limited
            ]
        )
        == 1
    )
    individual = [
        c
        for c in fake_slack.calls_to("chat.postMessage")
        if "is in the books as" in text_of(c.params) or "did not sync" in text_of(c.params)
    ]
    assert individual == []  # the summary replaced the flood
    assert any(c.rate_limited for c in fake_slack.calls_to("chat.postMessage"))


async def wait_accepted(sandbox: SandboxServer, connection: Connection, count: int) -> None:
    async def read(s: Any) -> int:
        async with s.store.db.execute(
            "SELECT count(*) FROM expenses WHERE connection_id = ?", (connection.id,)
        ) as rows:
            (found,) = await rows.fetchone()
            return int(found)

    async with asyncio.timeout(20):
        while await sandbox.call(read) < count:  # noqa: ASYNC110 - polling another thread's store
            await asyncio.sleep(0.05)


async def test_status_and_the_home_tab_show_recent_expenses_and_batches(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient
) -> None:
    _, refs = await company_with_xero(bot, fake_slack, client)
    await submit(bot, fake_slack, refs, merchant="Status Lunch")
    await thread_reply(fake_slack, "Status Lunch", "is in the books")
    await submit(bot, fake_slack, refs, merchant="Status Taxi", account="acc-gone")
    await thread_reply(fake_slack, "Status Taxi", "did not sync")

    asked = await bot.sender.command("status", user_id=ADMIN, channel_id=CHANNEL)
    (answer,) = await fake_slack.wait_for_responses(asked.response_key)
    said = text_of(answer)
    assert "*Acme Ltd*'s recent sync batches" in said
    assert "1 expense(s), :white_check_mark: completed (1 in the books, 0 failed)" in said
    assert "1 expense(s), :x: failed (0 in the books, 1 failed)" in said

    await bot.sender.event({"type": "app_home_opened", "user": ADMIN, "tab": "home"}, event_id="Ev0STATUS")
    await fake_slack.wait_for("views.publish")
    home = text_of(fake_slack.home(ADMIN))
    assert "Your recent expenses" in home
    assert "*Status Lunch* — £1,481.40 — :white_check_mark: In the books" in home
    assert "*Status Taxi* — £1,481.40 — :x: Sync failed" in home


async def test_the_watcher_backs_off_through_api_faults_and_catches_up(tmp_path: Any, client: SandboxClient) -> None:
    from bot.services.batches import BatchWatcher
    from bot.services.work import NoMessagesToRefresh, NoWorkToSend
    from bot.sync2books_backend import Sync2BooksBackend
    from storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()
    looks = {"n": 0}
    backend = Sync2BooksBackend(client)
    listing = backend.changed_batches

    def counted(since: Any, open_batches: Any) -> Any:
        looks["n"] += 1
        return listing(since, open_batches)

    backend.changed_batches = counted  # type: ignore[method-assign]

    watcher = BatchWatcher(db, backend, NoMessagesToRefresh(), NoWorkToSend())
    await client.configure_sandbox(error_rate=1.0)
    for _ in range(8):
        await watcher.watch_sync_batches()
    await client.configure_sandbox(error_rate=0.0)
    assert looks["n"] == 3  # it asked at looks 1, 3 and 6 (skipping 1, then 2, then 4): not every time
    for _ in range(9):
        await watcher.watch_sync_batches()
    assert looks["n"] >= 5  # and it catches up once the API answers again
    await db.dispose()
