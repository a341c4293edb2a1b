"""What operators see: Prometheus metrics, readiness, and JSON log lines that never hold a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bot.logs import JsonFormatter, log_context
from storage.db import Database
from storage.repositories import Announcements
from storage.tables import utcnow
from tests.bot.test_cli import ROOT, clean_env
from tests.support.bot import ADMIN, CHANNEL, SIGNING_SECRET, RunningBot, bot_settings, free_port
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.sandbox import SandboxServer
from tests.support.sandbox_client import SandboxClient
from tests.support.slack_requests import SlackSender


async def scrape(url: str) -> dict[str, list[Sample]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {family.name: family.samples for family in text_string_to_metric_families(answer.text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


async def test_metrics_show_requests_acks_outbox_announcements_and_backend_calls(
    bot: RunningBot, fake_slack: FakeSlack, client: SandboxClient, bot_database: str
) -> None:
    await bot.sender.command("register Metered Ltd", user_id=ADMIN, channel_id=CHANNEL)
    await fake_slack.wait_for("chat.postMessage")
    # An announcement another process is sending (its lease runs an hour), owed two minutes ago.
    db = Database(bot_database)
    async with db.session() as session:
        await Announcements(session).owe("test:held", CHANNEL, "connection_lost", {})
    async with db.session() as session:
        held = await Announcements(session).get("test:held")
        assert held is not None
        held.state, held.lease_until = "sending", utcnow() + timedelta(hours=1)
        held.created_at = utcnow() - timedelta(minutes=2)
    await db.dispose()

    families = await scrape(bot.url)
    requests = families["sync2books_bot_requests"]
    assert value(requests, "sync2books_bot_requests_total", kind="command", status="200") >= 1
    acks = families["sync2books_bot_ack_seconds"]
    assert value(acks, "sync2books_bot_ack_seconds_count", kind="command") >= 1
    assert value(acks, "sync2books_bot_ack_seconds_bucket", kind="command", le="3.0") >= 1  # acked within 3 s
    depth = families["sync2books_bot_outbox_depth"]
    assert value(depth, "sync2books_bot_outbox_depth", outbox="announcements") == 1
    assert {s.labels["outbox"] for s in depth} == {"announcements", "expenses", "receipts"}
    oldest = value(
        families["sync2books_bot_outbox_oldest_age_seconds"],
        "sync2books_bot_outbox_oldest_age_seconds",
        outbox="announcements",
    )
    assert 110 < oldest < 600
    assert value(families["sync2books_bot_announcements"], "sync2books_bot_announcements_total", result="sent") >= 1
    calls = families["sync2books_bot_backend_calls"]
    assert value(calls, "sync2books_bot_backend_calls_total", service="sync2books", method="POST", status="201") >= 1
    latency = families["sync2books_bot_backend_call_seconds"]
    assert value(latency, "sync2books_bot_backend_call_seconds_count", service="sync2books") >= 1
    assert (
        value(families["sync2books_bot_watcher_last_look_age_seconds"], "sync2books_bot_watcher_last_look_age_seconds")
        >= 0
    )
    for family in (
        "sync2books_bot_slack_rate_limited",
        "sync2books_bot_watcher_lag_seconds",
        "sync2books_bot_backend_errors",
    ):
        assert family in families


async def test_ready_only_when_the_database_and_the_backend_answer(
    fake_slack: FakeSlack, sandbox: SandboxServer, bot_database: str
) -> None:
    with RunningBot(bot_settings(fake_slack, bot_database, sandbox.url), fake_slack) as bot:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{bot.url}/readyz")
        assert (answer.status_code, answer.json()) == (200, {"ready": True, "database": "ok", "backend": "ok"})
    nowhere = f"http://127.0.0.1:{free_port()}"
    with RunningBot(bot_settings(fake_slack, bot_database, nowhere), fake_slack) as bot:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"{bot.url}/readyz", timeout=30)
    assert answer.status_code == 503
    assert answer.json()["database"] == "ok"
    assert answer.json()["backend"] in ("no answer within 3 s", "unavailable (BackendUnavailable)")


def test_a_json_line_carries_its_context_and_masks_secrets() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.json_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with log_context(request_id="req_1", workspace="T123", company_id="c-77"):
            logger.warning("sent with %s and %s", "xoxb-1234-5678-abcdef", "sk_test_4eC39HqLyjWDarjtT1zdp7dc")
        try:
            raise RuntimeError("postgresql://bot:hunter2@db/prod refused whsec_c2VjcmV0")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["request_id"], first["workspace"], first["company_id"]) == ("req_1", "T123", "c-77")
    assert first["level"] == "warning" and first["time"].endswith("Z")
    assert "xoxb-" not in first["message"] and "sk_test_" not in first["message"]
    assert "request_id" not in second  # the context ended with its block
    assert "hunter2" not in second["exception"] and "whsec_" not in second["exception"]


async def test_log_format_json_makes_every_line_one_json_object(tmp_path: Path, fake_slack: FakeSlack) -> None:
    port = free_port()
    api_key = "sk_test_json_logs_never_show_this_key"
    env = clean_env(
        PYTHONPATH=str(ROOT),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake_slack.api_url,
        SYNC2BOOKS_API_KEY=api_key,
        PORT=str(port),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        LOG_FORMAT="json",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    stderr_read = asyncio.create_task(process.stderr.read())
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        assert "ready" in line, line
        fake_slack.add_user(ADMIN, name="ada", is_admin=True)
        async with SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, fake=fake_slack) as slack:
            await slack.command("register Logged Ltd", user_id=ADMIN, channel_id=CHANNEL)
            await fake_slack.wait_for("chat.postMessage", timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    lines = (await stderr_read).decode().splitlines()
    assert lines, "the bot logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one object
    assert any("subscribed to Sync2Books webhooks" in r["message"] for r in records)
    text = "\n".join(lines)
    for secret in (BOT_TOKEN, SIGNING_SECRET, api_key):
        assert secret not in text
