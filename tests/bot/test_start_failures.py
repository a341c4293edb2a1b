"""Every way the start can fail, as a person meets it: the real command in a process, its output and exit code.

Each failure is one sentence on stderr and exit status 2; no traceback, no password; SIGTERM and SIGINT stop the
bot at any moment of its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.cli import main
from bot.runner import SOCKET_CONNECT_SECONDS
from bot.settings import Settings
from tests.bot.test_cli import ROOT, clean_env, run_cli
from tests.support.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack

PASSWORD = "s3cr3t-Pa55"
# Python and the bot's imports take seconds of CPU before anything can happen, and CI's two cores are shared.
START_SECONDS = 60.0
# From giving up to the process's end: closing what was opened.
STOP_SECONDS = 5.0


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed start says, after checking that it said nothing else and exited with 2."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sync2books-bot: ") and lines[0].endswith("."), lines[0]
    assert "ready" not in result.stdout
    return lines[0].removeprefix("sync2books-bot: ")


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, so nobody else takes it, but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclass
class TcpServer:
    """A server on 127.0.0.1 that either never answers, or answers every websocket handshake with 403."""

    answer: bytes | None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.answer is not None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(self.answer)
            await writer.drain()
            writer.close()
        self.connected.set()
        if self.answer is None:
            await reader.read()  # silence, until the client goes away

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TcpServer]:
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self


def silent() -> TcpServer:
    return TcpServer(answer=None)


def forbidding() -> TcpServer:
    return TcpServer(answer=b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


def socket_mode_env(fake: FakeSlack) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": fake.api_url, "PORT": "0"}


async def start_bot(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(ROOT), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@dataclass
class Ended:
    result: subprocess.CompletedProcess[str]
    at: float  # time.monotonic()


async def finished(process: asyncio.subprocess.Process, timeout: float) -> Ended:
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Ended(
        subprocess.CompletedProcess([], process.returncode, stdout.decode(), stderr.decode()), time.monotonic()
    )


# --- Socket Mode ----------------------------------------------------------------------------------------------------


async def test_a_socket_mode_websocket_that_cannot_be_reached_stops_the_start_in_one_sentence(
    tmp_path: Path,
) -> None:
    # Three fakes, each pointing the bot at a websocket that fails its own way; the three bots run side by side.
    with (
        FakeSlack() as refused_slack,
        FakeSlack() as silent_slack,
        FakeSlack() as forbidden_slack,
        refusing_port() as port,
    ):
        async with silent().running() as quiet, forbidding().running() as forbidden:
            refused_slack.socket_url = f"ws://127.0.0.1:{port}/link/"
            silent_slack.socket_url = f"ws://127.0.0.1:{quiet.port}/link/"
            forbidden_slack.socket_url = f"ws://127.0.0.1:{forbidden.port}/link/"
            processes = []
            for name, fake in (("refused", refused_slack), ("silent", silent_slack), ("forbidden", forbidden_slack)):
                (tmp_path / name).mkdir()
                processes.append(await start_bot(tmp_path / name, socket_mode_env(fake)))
            ends = await asyncio.gather(
                *(finished(process, SOCKET_CONNECT_SECONDS + START_SECONDS) for process in processes)
            )
            assert quiet.connected.is_set() and forbidden.connected.is_set()  # each bot did try
        for fake, end in zip((refused_slack, silent_slack, forbidden_slack), ends, strict=True):
            (opened,) = fake.calls_to("apps.connections.open")
            # The fake's clock is this process's: from asking for the websocket to the bot's end.
            assert end.at - opened.at < SOCKET_CONNECT_SECONDS + STOP_SECONDS, end.at - opened.at
        results = [end.result for end in ends]

    refused, never, forbade = (one_sentence(result) for result in results)
    advice = "check that this machine may open websockets to Slack (a firewall or proxy?)."
    bound = f"could not be reached in {SOCKET_CONNECT_SECONDS:g} s"
    assert refused == f"Slack's Socket Mode websocket at ws://127.0.0.1:{port} {bound} (connection refused): {advice}"
    assert (
        never == f"Slack's Socket Mode websocket at ws://127.0.0.1:{quiet.port} {bound} (it did not answer): {advice}"
    )
    assert forbade == (
        f"Slack's Socket Mode websocket at ws://127.0.0.1:{forbidden.port} {bound} "
        f"(the websocket handshake was refused with HTTP 403): {advice}"
    )
    for result in results:
        assert "ticket=" not in result.stderr  # the URL's one-time ticket is not told
        assert APP_TOKEN not in result.stderr and BOT_TOKEN not in result.stderr


@pytest.mark.parametrize(
    ("signum", "server"), [(signal.SIGTERM, silent), (signal.SIGINT, forbidding)], ids=["SIGTERM-silent", "SIGINT-403"]
)
async def test_a_signal_while_socket_mode_is_still_trying_stops_the_bot_within_5_s(
    tmp_path: Path, fake_slack: FakeSlack, signum: signal.Signals, server: Callable[[], TcpServer]
) -> None:
    async with server().running() as websocket:
        fake_slack.socket_url = f"ws://127.0.0.1:{websocket.port}/link/"
        process = await start_bot(tmp_path, socket_mode_env(fake_slack))
        # Its first try is under way (silent) or has failed and slack_sdk waits to retry (403).
        await asyncio.wait_for(websocket.connected.wait(), START_SECONDS)
        process.send_signal(signum)
        signalled = time.monotonic()
        end = await finished(process, 2 * STOP_SECONDS)
        stopped_in, result = end.at - signalled, end.result
    assert stopped_in < STOP_SECONDS, f"the bot took {stopped_in:.1f} s to stop"
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Failed to connect" not in result.stderr
    assert "ready" not in result.stdout


# --- Slack in HTTP mode ---------------------------------------------------------------------------------------------


async def test_http_mode_asks_slack_who_it_is_before_saying_ready(tmp_path: Path, fake_slack: FakeSlack) -> None:
    http_mode = {"SLACK_SIGNING_SECRET": "s", "PORT": "0"}
    with refusing_port() as port:
        revoked, nowhere, not_slack = await asyncio.gather(
            asyncio.to_thread(
                run_cli,
                "run",
                cwd=tmp_path,
                SLACK_BOT_TOKEN="xoxb-revoked",
                SLACK_API_URL=fake_slack.api_url,
                **http_mode,
            ),
            asyncio.to_thread(
                run_cli,
                "run",
                cwd=tmp_path,
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_API_URL=f"http://127.0.0.1:{port}/api/",
                **http_mode,
            ),
            asyncio.to_thread(
                run_cli,
                "run",
                cwd=tmp_path,
                SLACK_BOT_TOKEN=BOT_TOKEN,
                SLACK_API_URL=f"{fake_slack.url}/not-the-api/",
                **http_mode,
            ),
        )
    assert one_sentence(revoked) == "Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN."
    assert one_sentence(nowhere) == (
        f"Slack could not be reached at http://127.0.0.1:{port}/api/ (connection refused): check SLACK_API_URL."
    )
    assert one_sentence(not_slack) == (
        f"{fake_slack.url}/not-the-api/ answered HTTP 404, not as Slack's Web API: check SLACK_API_URL."
    )
    assert "xoxb-revoked" not in revoked.stderr


# --- the database, for `run`, `db upgrade` and `check` --------------------------------------------------------------


def database_cases(tmp_path: Path, refused: int) -> dict[str, str]:
    """DATABASE_URLs that cannot be used, and what the start says of each."""
    missing_dir = tmp_path / "no" / "such" / "dir"
    return {
        f"postgresql://bot:{PASSWORD}@127.0.0.1:{refused}/bot": (
            f"nothing answers at 127.0.0.1:{refused} (connection refused); "
            f"check DATABASE_URL (postgresql://bot:***@127.0.0.1:{refused}/bot)."
        ),
        f"postgresql://bot:{PASSWORD}@no-such-host.invalid/bot": (
            "the host no-such-host.invalid is unknown; "
            "check DATABASE_URL (postgresql://bot:***@no-such-host.invalid/bot)."
        ),
        "postgresql://postgres@127.0.0.1:5432/no_such_database": (
            '127.0.0.1:5432 refused: database "no_such_database" does not exist; '
            "check DATABASE_URL (postgresql://postgres@127.0.0.1:5432/no_such_database)."
        ),
        # /proc takes no new files, not even from root.
        "sqlite:////proc/bot.sqlite3": (
            "the SQLite file /proc/bot.sqlite3 cannot be opened or created (unable to open database file); "
            "check DATABASE_URL (sqlite:////proc/bot.sqlite3)."
        ),
        f"sqlite:///{missing_dir}/bot.sqlite3": (
            f"the directory of the SQLite file {missing_dir}/bot.sqlite3 does not exist ({missing_dir}); "
            f"check DATABASE_URL (sqlite:///{missing_dir}/bot.sqlite3)."
        ),
    }


def said_about_the_database(command: tuple[str, ...], result: subprocess.CompletedProcess[str]) -> str:
    """What the command said of the database: `check` on its FAIL line (exit 1), the others in their one sentence."""
    assert PASSWORD not in result.stdout + result.stderr
    if command != ("check",):
        return one_sentence(result)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = (line for line in result.stdout.splitlines() if "database" in line.lower())
    return line.removeprefix("FAIL  ")


async def test_a_database_that_cannot_be_used_stops_each_command_in_one_sentence(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    slack = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": fake_slack.api_url}
    with refusing_port() as port:
        cases = database_cases(tmp_path, port)
        refused, unknown, _, proc, missing = cases
        runs = [(("run",), refused), (("db", "upgrade"), unknown), (("run",), proc), (("check",), missing)]
        results = await asyncio.gather(
            *(
                asyncio.to_thread(run_cli, *command, cwd=tmp_path, DATABASE_URL=url, PORT="0", **slack)
                for command, url in runs
            )
        )
    for (command, url), result in zip(runs, results, strict=True):
        assert said_about_the_database(command, result) == f"The database cannot be used: {cases[url]}"
    assert not (tmp_path / "no").exists()  # refused, not made


@pytest.mark.parametrize("command", [("run",), ("db", "upgrade"), ("check",)], ids=" ".join)
def test_every_database_problem_is_told_by_every_command(
    tmp_path: Path,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
) -> None:
    # In this process, through the command's own entry point: the processes above show what reaches the console.
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s", "PORT": "0"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.chdir(tmp_path)
    with refusing_port() as port:
        for url, problem in database_cases(tmp_path, port).items():
            monkeypatch.setenv("DATABASE_URL", url)
            code = main(list(command))
            out, err = capsys.readouterr()
            result = subprocess.CompletedProcess(command, code, out, err)
            assert said_about_the_database(command, result) == f"The database cannot be used: {problem}", url
    assert not (tmp_path / "no").exists()


async def test_a_malformed_database_url_is_refused_without_showing_its_password(tmp_path: Path) -> None:
    url = f"postgresql://bot:{PASSWORD}@db@host/bot"  # an @ in the password, not written as %40
    runs = await asyncio.gather(
        asyncio.to_thread(run_cli, "run", cwd=tmp_path, DATABASE_URL=url, SLACK_BOT_TOKEN=BOT_TOKEN),
        asyncio.to_thread(run_cli, "db", "upgrade", cwd=tmp_path, DATABASE_URL=url),
    )
    for result in runs:
        assert one_sentence(result) == (
            "DATABASE_URL has an @ in its password: write it as %40, not 'postgresql://bot:***@host/bot'."
        )
        assert PASSWORD not in result.stdout + result.stderr


# --- the sandbox ----------------------------------------------------------------------------------------------------


async def test_a_sandbox_port_out_of_range_is_one_sentence(tmp_path: Path) -> None:
    flag, env = await asyncio.gather(
        asyncio.to_thread(run_cli, "sandbox", "--port", "99999", cwd=tmp_path),
        asyncio.to_thread(run_cli, "sandbox", cwd=tmp_path, PORT="99999"),
    )
    assert one_sentence(flag) == "--port must be a number from 0 to 65535, not '99999'."
    assert one_sentence(env) == "PORT must be a number from 0 to 65535, not '99999'."
