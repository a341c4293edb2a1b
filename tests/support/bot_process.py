"""The bot as its own process (``python -m bot run``), in HTTP mode on a free port, with what it logs kept.

For tests that must see the bot from outside: its memory (``/proc``), its console, its exit.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from tests.support.bot import SIGNING_SECRET
from tests.support.fake_slack import BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Slack sends to (http://\S+)/slack/events")
BOT_SETTINGS = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SYNC2BOOKS_API_URL",
    "SYNC2BOOKS_API_KEY",
    "DATABASE_URL",
    "HOST",
    "PORT",
    "POLL_INTERVAL_SECONDS",
    "SYNC_BACKEND",
    "CODAT_API_KEY",
    "CODAT_API_URL",
    "ADMIN_USER_IDS",
)
API_KEY = "sk_test_hostile_input_suite"


class BotProcess:
    """``with BotProcess(fake, workdir) as bot:`` runs the bot with the embedded sandbox until the block ends."""

    def __init__(self, fake: FakeSlack, workdir: Path, **settings: str) -> None:
        self.workdir = workdir
        self.database = workdir / "data" / "bot.sqlite3"
        env = {name: value for name, value in os.environ.items() if name not in BOT_SETTINGS}
        env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            SYNC2BOOKS_API_KEY=API_KEY,
            PORT="0",
            POLL_INTERVAL_SECONDS="0.5",
            PYTHONPATH=str(ROOT),
            **settings,
        )
        self._env = env
        self._output: list[str] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> BotProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=self.workdir,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        if not self._ready.wait(60):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the bot did not start:\n{self.output}")
        return self

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._output.append(line)
            found = READY.search(line)
            if found:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    @property
    def sandbox_url(self) -> str:
        return f"{self.url}/sync2books"

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._output)

    def memory_kib(self, field: str = "VmHWM") -> int:
        """The process's resident memory from /proc: VmRSS now, or VmHWM, the most it has ever held."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
        assert found, status
        return int(found.group(1))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._drainer.join(10)
