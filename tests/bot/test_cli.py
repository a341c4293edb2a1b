"""The bot as a person starts it: from the README's commands in a fresh checkout, and ``check``."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from bot.sealing import Sealer
from bot.settings import Settings
from storage.db import head_revision
from tests.support.bot import ADMIN, CHANNEL, SIGNING_SECRET
from tests.support.fake_codat import running_fake_codat
from tests.support.fake_slack import BOT_TOKEN, FakeSlack, text_of
from tests.support.sandbox import authorize
from tests.support.slack_requests import SlackSender

ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv") or "uv"


def clean_env(**values: str) -> dict[str, str]:
    """This machine's environment without any of the bot's settings, plus ``values``."""
    # Every variable the settings read (from the model, so a new one is never forgotten), and uv's venv marker.
    ours = {str(field.validation_alias or name).upper() for name, field in Settings.model_fields.items()}
    ours.add("VIRTUAL_ENV")
    env = {name: value for name, value in os.environ.items() if name not in ours}
    return {**env, **values}


def fresh_checkout(into: Path) -> Path:
    """The project's files as git would check them out (tracked and new, nothing ignored), without a venv."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


def readme_commands() -> tuple[str, str, str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "the README starts with a sh block of its commands"
    setup, run, test = (line.split("#")[0].strip() for line in block.group(1).strip().splitlines()[:3])
    return setup, run, test


async def test_the_readme_commands_start_the_bot_in_a_fresh_checkout(tmp_path: Path, fake_slack: FakeSlack) -> None:
    setup, run, test = readme_commands()
    assert (setup, test) == ("uv sync", "uv run pytest")
    assert run.startswith("uv run sync2books-bot")
    checkout = fresh_checkout(tmp_path / "checkout")
    env = clean_env(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake_slack.api_url, PORT="0"
    )
    synced = await asyncio.to_thread(
        subprocess.run, setup.split(), cwd=checkout, env=env, capture_output=True, text=True, timeout=600
    )
    assert synced.returncode == 0, synced.stderr

    process = await asyncio.create_subprocess_exec(
        *run.split(), cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr_read = asyncio.create_task(process.stderr.read())  # drained as it comes, so the bot never blocks on it
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=90)).decode()
        found = re.search(r"Slack sends to (http://\S+)/slack/events; Sync2Books sandbox at (http://\S+)\)", line)
        assert found, line
        url, sandbox_url = found.groups()
        assert sandbox_url == f"{url}/sync2books"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/healthz")).json() == {"ok": True, "mode": "http"}
        fake_slack.add_user(ADMIN, name="ada", is_admin=True)

        async with SlackSender(f"{url}/slack/events", SIGNING_SECRET, fake=fake_slack) as slack:
            await slack.command("register Fresh Ltd", user_id=ADMIN, channel_id=CHANNEL)
            await fake_slack.wait_for("chat.postMessage", timeout=15)
            await slack.command("connect xero", user_id=ADMIN, channel_id=CHANNEL)
            await fake_slack.wait_for("chat.postMessage", count=2, timeout=15)
            link = fake_slack.messages(CHANNEL)[-1]["blocks"][1]["accessory"]["url"]
            assert link.startswith(f"{sandbox_url}/link/")  # the link opens on this machine
            assert (await authorize(link)).status_code == 200
            await fake_slack.wait_for("chat.postMessage", count=3, timeout=30)
        assert "*Xero* is connected for *Fresh Ltd*" in text_of(fake_slack.messages(CHANNEL)[-1])
        assert (checkout / "data" / "bot.sqlite3").is_file()
        assert (checkout / "data" / "sandbox.sqlite3").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = await asyncio.wait_for(process.wait(), 30)
        stopped_in = time.monotonic() - started
        stderr = (await stderr_read).decode()
    assert code == 0, stderr
    assert stopped_in < 15
    assert "Traceback" not in stderr
    assert BOT_TOKEN not in stderr
    assert SIGNING_SECRET not in stderr


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(ROOT), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_check_names_a_wrong_token_in_plain_words(tmp_path: Path, fake_slack: FakeSlack) -> None:
    wrong = await asyncio.to_thread(
        run_cli,
        "check",
        cwd=tmp_path,
        SLACK_BOT_TOKEN="xoxb-not-the-right-one",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert wrong.returncode == 1
    assert "FAIL  Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN." in wrong.stdout
    assert "ok    Sync2Books (the embedded sandbox)" in wrong.stdout
    assert "xoxb-not-the-right-one" not in wrong.stdout + wrong.stderr
    assert "Traceback" not in wrong.stderr

    right = await asyncio.to_thread(
        run_cli,
        "check",
        cwd=tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=fake_slack.api_url,
    )
    assert right.returncode == 0, right.stdout + right.stderr
    assert "ok    Slack: connected to Test Team as @sync2books" in right.stdout
    assert "ok    database: reachable" in right.stdout


async def test_check_says_when_sync2books_refuses_the_key_or_cannot_be_reached(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    slack = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake_slack.api_url}
    live = await asyncio.to_thread(run_cli, "check", cwd=tmp_path, SYNC2BOOKS_API_KEY="sk_live_nope", **slack)
    assert live.returncode == 1
    assert "refused the API key: The sandbox takes test keys" in live.stdout
    assert "Check SYNC2BOOKS_API_KEY." in live.stdout
    assert "sk_live_nope" not in live.stdout
    gone = await asyncio.to_thread(run_cli, "check", cwd=tmp_path, SYNC2BOOKS_API_URL="http://127.0.0.1:9", **slack)
    assert gone.returncode == 1
    assert "FAIL  Sync2Books could not be reached at http://127.0.0.1:9" in gone.stdout


async def test_a_start_without_a_token_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    result = await asyncio.to_thread(run_cli, "run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "sync2books-bot: SLACK_BOT_TOKEN is required to talk to Slack: set it to the bot token (xoxb-…)."
    )
    bad_port = await asyncio.to_thread(run_cli, "run", cwd=tmp_path, SLACK_BOT_TOKEN=BOT_TOKEN, PORT="x")
    assert bad_port.stderr.strip() == "sync2books-bot: PORT must be a number from 0 to 65535, not 'x'."


async def test_a_refused_app_token_stops_the_start_in_one_sentence(tmp_path: Path, fake_slack: FakeSlack) -> None:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-not-ours",
        "SLACK_API_URL": fake_slack.api_url,
        "PORT": "0",
    }
    started = await asyncio.to_thread(run_cli, "run", cwd=tmp_path, **env)
    assert started.returncode == 2
    assert started.stderr.strip().endswith(
        "sync2books-bot: Slack refused SLACK_APP_TOKEN (invalid_auth): use the app-level token (xapp-…) with the "
        "connections:write scope, and switch Socket Mode on for the app."
    )
    assert "Traceback" not in started.stderr
    assert "xapp-1-not-ours" not in started.stderr
    checked = await asyncio.to_thread(run_cli, "check", cwd=tmp_path, **env)
    assert checked.returncode == 1
    assert "FAIL  Slack refused SLACK_APP_TOKEN (invalid_auth)" in checked.stdout


async def test_db_upgrade_applies_the_migrations(tmp_path: Path) -> None:
    result = await asyncio.to_thread(run_cli, "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database schema at revision {head_revision()}"
    assert (tmp_path / "data" / "bot.sqlite3").is_file()


async def test_keygen_prints_a_key_that_seals_and_rotates(tmp_path: Path) -> None:
    first = await asyncio.to_thread(run_cli, "keygen", cwd=tmp_path)
    second = await asyncio.to_thread(run_cli, "keygen", cwd=tmp_path)
    assert (first.returncode, second.returncode, first.stderr) == (0, 0, "")
    old, new = first.stdout.strip(), second.stdout.strip()
    assert old != new
    sealed = Sealer(SecretStr(old)).seal("xoxb-stored-token")
    assert "xoxb-stored-token" not in sealed
    assert Sealer(SecretStr(f"{new},{old}")).open(sealed) == "xoxb-stored-token"  # rotated: the old key still reads


async def test_check_with_codat_names_codat_and_its_key(tmp_path: Path, fake_slack: FakeSlack) -> None:
    slack = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake_slack.api_url}
    with running_fake_codat() as codat:
        codat_env = {"SYNC_BACKEND": "codat", "CODAT_API_URL": codat.url}
        right = await asyncio.to_thread(
            run_cli, "check", cwd=tmp_path, CODAT_API_KEY=codat.api_key, **codat_env, **slack
        )
        assert right.returncode == 0, right.stdout + right.stderr
        assert f"ok    Codat ({codat.url}): 0 companies on this API key" in right.stdout
        wrong = await asyncio.to_thread(
            run_cli, "check", cwd=tmp_path, CODAT_API_KEY="not-the-key", **codat_env, **slack
        )
        assert wrong.returncode == 1
        assert f"FAIL  Codat ({codat.url}) refused the API key" in wrong.stdout
        assert "Check CODAT_API_KEY." in wrong.stdout
        assert "not-the-key" not in wrong.stdout + wrong.stderr
    missing = await asyncio.to_thread(run_cli, "check", cwd=tmp_path, SYNC_BACKEND="codat", **slack)
    assert missing.returncode != 0
    assert "CODAT_API_KEY is required when SYNC_BACKEND is codat." in missing.stdout + missing.stderr
