"""Units of work on SQLite queued in the bot against SQLite's own busy handler, in one run.

Many writers at once (webhooks arriving together, twenty people submitting) each run a small unit of work on the
bot's SQLite store. Naive: every unit of work asks SQLite for the write lock and, finding it taken, sleeps in
SQLite's busy handler (which backs off up to 100 ms a try). Ours: ``Database`` queues them in arrival order.

    uv run python bench/sqlite_units_of_work.py [--writers 50] [--each 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time

from storage.db import Database
from storage.repositories import SeenDeliveries


async def burst(queued: bool, writers: int, each: int) -> tuple[float, list[float]]:
    """Units of work per second and each one's latency (two inserts, as a webhook's intake makes)."""
    with tempfile.TemporaryDirectory() as where:
        db = Database(f"sqlite:///{where}/bench.sqlite3", queue_units_of_work=queued)
        await db.upgrade()
        latencies: list[float] = []

        async def writer(w: int) -> None:
            for i in range(each):
                started = time.perf_counter()
                async with db.session() as session:
                    await SeenDeliveries(session).first_time(f"replay:{w}:{i}")
                    await SeenDeliveries(session).first_time(f"seen:{w}:{i}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        elapsed = time.perf_counter() - started
        await db.dispose()
    return len(latencies) / elapsed, sorted(latencies)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=50)
    parser.add_argument("--each", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    results: dict[bool, list[tuple[float, list[float]]]] = {False: [], True: []}
    for _ in range(args.rounds):  # interleaved, so both see the same machine
        for queued in (False, True):
            results[queued].append(await burst(queued, args.writers, args.each))
    print(f"{args.writers} writers x {args.each} units of work, median of {args.rounds} rounds")
    print("| | units/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    figures = {}
    for queued, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        p = {q: statistics.median(quantile(lat, q) * 1000 for _, lat in runs) for q in (0.5, 0.95, 0.99, 1.0)}
        figures[queued] = (rate, p)
        name = "queued in the bot" if queued else "naive: SQLite's busy handler"
        print(f"| {name} | {rate:.0f} | {p[0.5]:.1f} | {p[0.95]:.1f} | {p[0.99]:.1f} | {p[1.0]:.0f} |")
    (naive_rate, naive), (rate, ours) = figures[False], figures[True]
    print(
        f"ratios (ours/naive): throughput {rate / naive_rate:.2f}x, p99 {ours[0.99] / naive[0.99]:.2f}x, "
        f"max {ours[1.0] / naive[1.0]:.2f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
