"""The real bot on 127.0.0.1 (HTTP mode), in a thread with its own event loop, wired to the fakes.

Slack is ``FakeSlack``; Sync2Books is a ``SandboxServer`` reached over HTTP; the store is a real
database. Tests drive the bot only as Slack would: signed requests to ``/slack/events``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from bot.runner import BotServer
from bot.settings import Settings
from tests.support.fake_slack import BOT_TOKEN, FakeSlack
from tests.support.slack_requests import SlackSender

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN = "UADMIN"
MEMBER = "UMEMBER"
CHANNEL = "C0ACME"
OTHER_CHANNEL = "C0OTHER"


def bot_settings(fake: FakeSlack, database_url: str, sandbox_url: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": fake.api_url,
        "sync2books_api_url": sandbox_url,
        "sync2books_api_key": "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "database_url": database_url,
        "port": 0,
        "poll_interval_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class RunningBot:
    """``with RunningBot(settings) as bot:`` serves until the block ends; ``bot.sender`` speaks as Slack."""

    def __init__(self, settings: Settings, fake: FakeSlack) -> None:
        self._settings = settings
        self._fake = fake
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._server: BotServer | None = None
        self._thread = threading.Thread(target=self._run, name="bot", daemon=True)
        self.lines: list[str] = []

    def _run(self) -> None:
        async def main() -> None:
            self._server = BotServer(self._settings)
            await self._server.serve(on_ready=self._on_ready)

        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the test in __enter__
            self._failure = exc
            self._ready.set()

    def _on_ready(self, line: str) -> None:
        self.lines.append(line)
        self._ready.set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    @property
    def server(self) -> BotServer:
        assert self._server is not None
        return self._server

    def __enter__(self) -> RunningBot:
        self._thread.start()
        if not self._ready.wait(30) or self._failure is not None:
            raise RuntimeError(f"the bot did not start: {self._failure!r}")
        self.sender = SlackSender(f"{self.url}/slack/events", SIGNING_SECRET, fake=self._fake)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.request_stop()
        self._thread.join(timeout=30)
        if self._thread.is_alive():
            raise RuntimeError("the bot did not stop within 30 s")


def free_port() -> int:
    """A port nothing listens on now, for a bot whose PUBLIC_URL must name its port before it starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_bot_settings(fake: FakeSlack, database_url: str, sandbox_url: str, **overrides: Any) -> Settings:
    """A bot reachable at its PUBLIC_URL, so it subscribes to the sandbox's webhooks at start."""
    port = free_port()
    overrides = {"port": port, "public_url": f"http://127.0.0.1:{port}", **overrides}
    return bot_settings(fake, database_url, sandbox_url, **overrides)
