"""Benchmark: watching open sync batches, ours (one updatedSince listing) against a naive watcher (a GET each).

    uv run python bench/watch_batches.py            # 1,000 and 10,000 open batches over 100 companies
    uv run python bench/watch_batches.py 2000       # other sizes

The Sync2Books sandbox runs as its own process (so this process's RSS is the bot side only); the bot's
store is a SQLite file; Slack is the project's fake Web API server on 127.0.0.1. For each size:

1. seed N open batches (one expense each) over 100 companies, with processing held;
2. one naive cycle: GET /sync-batches/{id} for every open batch;
3. one cycle of ours: BatchWatcher.watch_sync_batches() from an empty cursor;
4. release processing and run ours every POLL seconds with the real announcement sender until every
   outcome is in Slack; the delay of each is (its announcement's sent_at − its batch's completedAt).

It prints requests per cycle, cycle wall and CPU time, the ratio against the naive watcher, the peak RSS,
and the p50/p95 notification delay, and checks them against the targets of issue 5.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apiclient.retry import RetryPolicy  # noqa: E402
from bot.services.announcements import AnnouncementSender  # noqa: E402
from bot.services.batches import BatchWatcher  # noqa: E402
from bot.services.work import NoMessagesToRefresh, NoWorkToSend  # noqa: E402
from bot.slack import SlackNotifier, web_client  # noqa: E402
from bot.sync2books_backend import Sync2BooksBackend  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.repositories import Companies  # noqa: E402
from storage.tables import Announcement, CompanyRecord, OutboxExpense, utcnow  # noqa: E402
from sync2books import wire  # noqa: E402
from sync2books.client import MAX_PAGE_SIZE  # noqa: E402
from sync2books.models import Expense, ExpenseLine, IntegrationKey, Ref  # noqa: E402
from tests.support.fake_slack import BOT_TOKEN, FakeSlack  # noqa: E402
from tests.support.sandbox_client import SandboxClient  # noqa: E402

KEY = "sk_test_benchmark_key_0000000000"
COMPANIES = 100
POLL_SECONDS = 2.0
NAIVE_CONCURRENCY = 20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Counted:
    """Counts the HTTP requests a client makes (an httpx event hook)."""

    def __init__(self) -> None:
        self.requests = 0

    async def __call__(self, request: httpx.Request) -> None:
        self.requests += 1


def start_sandbox(db_path: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--db", str(db_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"(http://\S+)", line)
    assert found, line
    return process, found.group(1)


async def authorize(auth_url: str) -> None:
    path, token = auth_url.split("?token=")
    async with httpx.AsyncClient() as browser:
        (await browser.post(f"{path}/authorize", data={"token": token})).raise_for_status()


async def seed(client: SandboxClient, db: Database, count: int) -> dict[str, datetime]:
    """N open batches over 100 companies, mirrored in the bot's outbox as accepted and QUEUED."""
    await client.configure_sandbox(processing_delay_ms=600_000, rate_limit_per_minute=None)
    connections = []
    for n in range(COMPANIES):
        company = await client.create_company(f"Bench Co {n:03d}")
        link = await client.get_auth_url(company.id, IntegrationKey.XERO)
        await authorize(link.auth_url)
        (connection,) = await client.list_connections(company.id)
        account = (await client.accounts(connection.id))[5].id
        tax = (await client.tax_rates(connection.id))[0].id
        bank = (await client.bank_accounts(connection.id))[0].id
        connections.append((company, connection, account, tax, bank))
        async with db.session() as session:
            await Companies(session).save(
                CompanyRecord(id=company.id, name=company.name, registered_by="UBENCH", created_at=utcnow())
            )
    gate = asyncio.Semaphore(16)
    created: dict[str, datetime] = {}

    async def one(n: int) -> OutboxExpense:
        company, connection, account, tax, bank = connections[n % COMPANIES]
        expense = Expense(
            id=str(uuid.uuid4()),
            type="Payment",
            issue_date="2026-11-20",
            currency="GBP",  # type: ignore[arg-type]
            bank_account_ref=Ref(id=bank),
            merchant_name=f"Shop {n}",
            lines=[
                ExpenseLine(
                    net_amount=Decimal("10.00"),
                    tax_amount=Decimal("2.00"),
                    tax_rate_ref=Ref(id=tax),
                    account_ref=Ref(id=account),
                )
            ],
        )
        async with gate:
            answer = await client.create_expenses(connection.id, [expense])
        now = utcnow()
        created[answer.sync_batch_id] = now
        return OutboxExpense(
            id=expense.id,
            company_id=company.id,
            connection_id=connection.id,
            channel_id=f"C{n % COMPANIES:04d}",
            submitted_by="UBENCH",
            submission_key=f"bench:{expense.id}",
            body=wire.dumps(expense).decode(),
            currency="GBP",
            total="12.00",
            merchant=expense.merchant_name,
            state="accepted",
            status="QUEUED",
            sync_batch_id=answer.sync_batch_id,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )

    for start in range(0, count, 500):
        records = await asyncio.gather(*(one(n) for n in range(start, min(count, start + 500))))
        async with db.session() as session:
            session.add_all(records)
    return created


async def naive_cycle(client: SandboxClient, counted: Counted, batch_ids: list[str]) -> dict[str, float]:
    gate = asyncio.Semaphore(NAIVE_CONCURRENCY)

    async def look(batch_id: str) -> None:
        async with gate:
            await client.get_sync_batch(batch_id)

    before, wall, cpu = counted.requests, time.perf_counter(), time.process_time()
    await asyncio.gather(*(look(b) for b in batch_ids))
    return {"requests": counted.requests - before, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


async def our_cycle(watcher: BatchWatcher, counted: Counted) -> dict[str, float]:
    before, wall, cpu = counted.requests, time.perf_counter(), time.process_time()
    await watcher.watch_sync_batches()
    return {"requests": counted.requests - before, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


async def delays(
    client: SandboxClient, db: Database, watcher: BatchWatcher, sender: AnnouncementSender, count: int
) -> list[float]:
    """Release processing; watch and announce until every outcome is in Slack; each outcome's delay.

    Scheduled as the bot schedules them: the watcher every POLL seconds on a fixed rate, the sender as soon
    as the watcher owes something (the bot's kick) and every second besides.
    """
    owed = asyncio.Event()
    done = asyncio.Event()

    async def watching() -> None:
        next_look = time.monotonic()
        while not done.is_set():
            if await watcher.watch_sync_batches():
                owed.set()
            next_look += POLL_SECONDS
            await asyncio.sleep(max(0.0, next_look - time.monotonic()))

    async def sending() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(owed.wait(), timeout=1.0)
            owed.clear()
            await sender.send_due()

    async def until_all_sent() -> None:
        while True:
            if await all_sent(db, count):
                done.set()
                return
            await asyncio.sleep(0.5)

    await client.configure_sandbox(processing_delay_ms=0)
    workers = [asyncio.create_task(watching()), asyncio.create_task(sending())]
    await asyncio.wait_for(until_all_sent(), timeout=30 * 60)
    await asyncio.gather(*workers)
    return await outcome_delays(client, db)


async def all_sent(db: Database, count: int) -> bool:
    """Every one of ``count`` outcomes owed, and nothing left to send."""
    from sqlalchemy import func, select

    async with db.session() as session:
        finished = (
            await session.execute(select(func.count()).where(Announcement.key.like("outcome:%")))  # type: ignore[attr-defined]
        ).scalar_one()
        unsent = (
            await session.execute(select(func.count()).where(Announcement.state.in_(["pending", "sending"])))  # type: ignore[attr-defined]
        ).scalar_one()
    return bool(finished >= count and unsent == 0)


async def outcome_delays(client: SandboxClient, db: Database) -> list[float]:
    """Each outcome's delay: its announcement's sent_at (or its summary's) minus its batch's completedAt."""
    from sqlalchemy import select

    completed = {b.id: b.completed_at async for b in client.iter_sync_batches()}
    async with db.session() as session:
        rows = list((await session.execute(select(Announcement))).scalars())
    sent_at: dict[str, datetime] = {}
    for row in rows:
        if row.kind == "expense_outcome" and row.state == "sent" and row.sent_at:
            sent_at[row.payload["batch_id"]] = row.sent_at
        if row.kind == "outcome_summary" and row.sent_at:
            for outcome in row.payload["outcomes"]:
                sent_at[outcome["batch_id"]] = row.sent_at
    return [
        (sent_at[batch_id] - done).total_seconds()
        for batch_id, done in completed.items()
        if done is not None and batch_id in sent_at
    ]


async def run(size: int, work: Path, fake: FakeSlack) -> dict[str, Any]:
    process, url = start_sandbox(work / f"sandbox-{size}.sqlite3")
    counted = Counted()
    client = SandboxClient(
        url, KEY, retry=RetryPolicy(max_retries=8, backoff_base=0.05), event_hooks={"request": [counted]}
    )
    db = Database(f"sqlite:///{work / f'bot-{size}.sqlite3'}")
    try:
        await db.upgrade()
        started = time.perf_counter()
        created = await seed(client, db, size)
        seeded_in = time.perf_counter() - started
        batch_ids = list(created)

        watcher = BatchWatcher(db, Sync2BooksBackend(client), NoMessagesToRefresh(), NoWorkToSend())
        naive = await naive_cycle(client, counted, batch_ids)
        ours = await our_cycle(watcher, counted)
        idle = await our_cycle(watcher, counted)
        sender = AnnouncementSender(db, SlackNotifier(web_client(BOT_TOKEN, fake.api_url)), pace=1.0)
        waited = await delays(client, db, watcher, sender, size)
        return {
            "size": size,
            "seeded_in": seeded_in,
            "naive": naive,
            "ours": ours,
            "idle": idle,
            "delays": sorted(waited),
            "rss": peak_rss_mb(),
        }
    finally:
        await client.aclose()
        await db.dispose()
        process.terminate()
        process.wait(timeout=30)


# --------------------------------------------------------------------------- webhooks against polling


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


async def scrape(http: httpx.AsyncClient, url: str) -> dict[str, float]:
    """The few figures of /metrics this benchmark follows: outbox depth, watcher lag observed, webhooks taken."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted: dict[str, float] = {"outbox": 0.0, "lag_count": 0.0, "lag_sum": 0.0, "webhooks": 0.0}
    text = (await http.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "sync2books_bot_outbox_depth" and sample.labels.get("outbox") == "announcements":
                wanted["outbox"] = sample.value
            elif sample.name == "sync2books_bot_watcher_lag_seconds_count":
                wanted["lag_count"] += sample.value
            elif sample.name == "sync2books_bot_watcher_lag_seconds_sum":
                wanted["lag_sum"] += sample.value
            elif sample.name == "sync2books_bot_webhooks_total" and sample.labels.get("outcome") == "accepted":
                wanted["webhooks"] += sample.value
    return wanted


async def delivery_race(size: int, work: Path, fake: FakeSlack, *, webhooks: bool) -> dict[str, Any]:
    """The real bot (BotServer, this process) against a sandbox process: outcomes by webhook, or by looks alone.

    Looks run at the default interval (10 s) in both; with webhooks they also go on, slower.
    """
    from bot.runner import BotServer
    from bot.settings import Settings

    name = "webhooks" if webhooks else "polling"
    process, url = start_sandbox(work / f"sandbox-{name}-{size}.sqlite3")
    client = SandboxClient(url, KEY, retry=RetryPolicy(max_retries=8, backoff_base=0.05))
    database_url = f"sqlite:///{work / f'bot-{name}-{size}.sqlite3'}"
    db = Database(database_url)
    port = free_port()
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": "bench-signing-secret",
        "slack_api_url": fake.api_url,
        "sync2books_api_url": url,
        "sync2books_api_key": KEY,
        "database_url": database_url,
        "port": port,
    }
    if webhooks:
        values["public_url"] = f"http://127.0.0.1:{port}"
    try:
        await db.upgrade()
        await seed(client, db, size)
        server = BotServer(Settings(_env_file=None, **values))  # type: ignore[call-arg]
        ready = asyncio.Event()
        serving = asyncio.create_task(server.serve(on_ready=lambda _: ready.set()))
        await asyncio.wait_for(ready.wait(), 60)
        scrapes: list[dict[str, float]] = []
        began = time.perf_counter()
        async with httpx.AsyncClient(timeout=30) as http:
            await client.configure_sandbox(processing_delay_ms=0)
            while not await all_sent(db, size):
                scrapes.append(await scrape(http, server.url))
                await asyncio.sleep(1.0)
            scrapes.append(await scrape(http, server.url))
        took = time.perf_counter() - began
        server.request_stop()
        await serving
        waited = await outcome_delays(client, db)
        return {"size": size, "mode": name, "delays": waited, "took": took, "scrapes": scrapes, "rss": peak_rss_mb()}
    finally:
        await client.aclose()
        await db.dispose()
        process.terminate()
        process.wait(timeout=30)


def race_report(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| open batches | outcomes told by | delay p50 | delay p95 | all told in | peak outbox | webhooks taken |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        waited, scrapes = result["delays"], result["scrapes"]
        lines.append(
            f"| {result['size']:,} | {result['mode']} | {percentile(waited, 0.5):.2f} s | "
            f"{percentile(waited, 0.95):.2f} s | {result['took']:.0f} s | "
            f"{max(s['outbox'] for s in scrapes):.0f} | {scrapes[-1]['webhooks']:.0f} |"
        )
    for result in results:
        trail = ", ".join(
            f"{s['outbox']:.0f}/{s['lag_count']:.0f}"
            for s in result["scrapes"][:: max(1, len(result["scrapes"]) // 12)]
        )
        lines.append(f"- /metrics during {result['mode']} at {result['size']:,} (outbox depth/lags observed): {trail}")
    return lines


def report(result: dict[str, Any]) -> list[str]:
    size, naive, ours, idle = result["size"], result["naive"], result["ours"], result["idle"]
    waited = result["delays"]
    p50 = statistics.median(waited) if waited else math.nan
    p95 = waited[min(len(waited) - 1, math.ceil(0.95 * len(waited)) - 1)] if waited else math.nan
    allowed = math.ceil(size / MAX_PAGE_SIZE) + 5
    ratio = naive["requests"] / max(1, ours["requests"])
    lines = [
        f"## {size:,} open batches over {COMPANIES} companies (seeded in {result['seeded_in']:.0f} s)",
        "| watcher | requests per cycle | cycle wall | cycle CPU |",
        "| --- | --- | --- | --- |",
        f"| naive (GET each) | {naive['requests']:,} | {naive['wall']:.2f} s | {naive['cpu']:.2f} s |",
        f"| ours, first look | {ours['requests']:,} | {ours['wall']:.2f} s | {ours['cpu']:.2f} s |",
        f"| ours, nothing changed | {idle['requests']:,} | {idle['wall']:.3f} s | {idle['cpu']:.3f} s |",
        f"- requests: {ratio:.0f}× fewer than naive (target ≥ 20×); {ours['requests']} ≤ {allowed} allowed",
        f"- notification delay over {len(waited):,} outcomes: p50 {p50:.2f} s, p95 {p95:.2f} s "
        f"(target p95 ≤ poll {POLL_SECONDS:.0f} s + 2 s)",
        f"- peak RSS of the bot side: {result['rss']:.0f} MB (target < 250 MB)",
    ]
    ok = ours["requests"] <= allowed and ratio >= 20 and p95 <= POLL_SECONDS + 2 and result["rss"] < 250
    lines.append(f"- targets met: {'yes' if ok else 'NO'}")
    return lines


async def main(sizes: list[int], *, race: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch, FakeSlack() as fake:
        for n in range(COMPANIES):
            fake.add_channel(f"C{n:04d}", name=f"bench-{n}")
        if race:
            print(f"# watch_batches --race — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
            results = []
            for size in sizes:
                for webhooks in (False, True):
                    results.append(await delivery_race(size, Path(scratch), fake, webhooks=webhooks))
                    print("\n".join(race_report(results[-1:])), flush=True)
            print("\n".join(race_report(results)))
            print(f"- peak RSS of this process (bot side and fake Slack): {peak_rss_mb():.0f} MB")
            return
        print(
            f"# watch_batches — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, poll {POLL_SECONDS} s"
        )
        for size in sizes:
            result = await run(size, Path(scratch), fake)
            print("\n".join(report(result)), flush=True)
        posted = Counter(call.method for call in fake.calls)
        print(f"- Slack calls over the whole run: {dict(posted)}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    race = "--race" in arguments
    asked = [int(arg) for arg in arguments if arg != "--race"]
    asyncio.run(main(asked or ([1_000] if race else [1_000, 10_000]), race=race))
