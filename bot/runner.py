"""Running the bot until SIGINT/SIGTERM, and ``check``: what is wrong with the configuration, in plain words."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator

import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.exc import SQLAlchemyError

from bot.app import BotRuntime, build_backend
from bot.settings import DATA_DIR, EMBEDDED_SANDBOX_PATH, ConfigError, Settings
from bot.slack import web_client
from storage.db import Database
from sync2books.errors import Sync2BooksAPIError, Sync2BooksError
from sync2books.sandbox.app import Sandbox
from sync2books.sandbox.server import bind_socket

log = logging.getLogger(__name__)


async def open_socket_url(slack: AsyncWebClient, app_token: str) -> str:
    """A Socket Mode URL for the app-level token, or ConfigError saying Slack refused it."""
    try:
        answer = await slack.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        raise ConfigError(
            f"Slack refused SLACK_APP_TOKEN ({error}): use the app-level token (xapp-…) with the "
            "connections:write scope, and switch Socket Mode on for the app."
        ) from None
    return str(answer["url"])


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the bot decides how to stop (see ``run_bot``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class BotServer:
    """The bot's HTTP server and everything behind it, bound before it starts so port 0 works."""

    def __init__(self, settings: Settings) -> None:
        self._sock = bind_socket(settings.host, settings.port)
        # With PORT=0 the links the sandbox hands out must carry the port actually bound.
        self.settings = settings.model_copy(update={"port": self._sock.getsockname()[1]})
        self.runtime = BotRuntime(self.settings)
        # log_config=None: uvicorn's lines go through the root logger, so LOG_FORMAT=json covers them too.
        config = uvicorn.Config(
            self.runtime.http_app, log_level="warning", access_log=False, lifespan="off", log_config=None
        )
        self._server = _Server(config)

    @property
    def url(self) -> str:
        return self.settings.public_url

    def request_stop(self) -> None:
        """Ask the server to stop; safe from a signal handler or another thread."""
        self._server.should_exit = True

    async def serve(self, on_ready: Callable[[str], None] = print) -> None:
        """Start everything, serve until asked to stop, then stop in order: no new work, finish what runs."""
        settings = self.settings
        socket_mode: AsyncSocketModeHandler | None = None
        await self.runtime.start()
        try:
            if settings.socket_mode:
                assert settings.slack_app_token is not None
                app_token = settings.slack_app_token.get_secret_value()
                socket_mode = AsyncSocketModeHandler(self.runtime.bolt, app_token)
                # Asked once here: slack_sdk would retry a refused app token forever, deaf to SIGTERM.
                socket_mode.client.wss_uri = await open_socket_url(self.runtime.slack, app_token)
                await socket_mode.connect_async()  # type: ignore[no-untyped-call]
            serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            while not self._server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
                await asyncio.sleep(0.02)
            if self._server.started:
                on_ready(self._ready_line())
            await serving
        finally:
            if socket_mode is not None:
                await socket_mode.close_async()  # type: ignore[no-untyped-call]
            await self.runtime.stop()
            self._sock.close()

    def _ready_line(self) -> str:
        url = self.settings.public_url
        mode = "Socket Mode" if self.settings.socket_mode else f"HTTP mode: Slack sends to {url}/slack/events"
        sandbox = f"; Sync2Books sandbox at {url}{EMBEDDED_SANDBOX_PATH}" if self.runtime.sandbox else ""
        if self.settings.sync_backend == "codat":
            sandbox = f"; expenses sync through Codat at {self.settings.codat_api_url}"
        return f"Sync2Books bot ready ({mode}{sandbox})"


async def run_bot(settings: Settings, *, on_ready: Callable[[str], None] = print) -> None:
    """Serve until SIGINT or SIGTERM."""
    server = BotServer(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_stop)
    try:
        await server.serve(on_ready)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def check(settings: Settings, say: Callable[[str], None] = print) -> bool:
    """Try every outside part once and say, one line each, what works and what does not."""
    healthy = True

    def report(ok: bool, line: str) -> None:
        nonlocal healthy
        healthy = healthy and ok
        say(("ok    " if ok else "FAIL  ") + line)

    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on {settings.public_url}"
    report(True, f"settings: {mode}; backend {settings.sync_backend}")

    assert settings.slack_bot_token is not None
    slack = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    try:
        answer = await slack.auth_test()
        report(True, f"Slack: connected to {answer.get('team')} as @{answer.get('user')}")
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
            report(False, f"Slack refused the bot token ({error}): check SLACK_BOT_TOKEN.")
        else:
            report(False, f"Slack answered with an error ({error}).")
    except SlackClientError as exc:
        report(
            False,
            f"Slack could not be reached at {settings.slack_api_url} ({type(exc).__name__}): check SLACK_API_URL.",
        )
    except OSError as exc:
        report(False, f"Slack could not be reached at {settings.slack_api_url} ({exc.strerror or exc}).")
    if settings.slack_app_token is not None:
        try:
            await open_socket_url(slack, settings.slack_app_token.get_secret_value())
            report(True, "Slack Socket Mode: the app-level token opens a connection")
        except ConfigError as exc:
            report(False, str(exc))
        except (SlackClientError, OSError) as exc:
            report(False, f"Slack Socket Mode could not be reached ({type(exc).__name__}).")

    sandbox = Sandbox(DATA_DIR / "sandbox.sqlite3") if settings.embedded_sandbox else None
    backend = build_backend(settings, sandbox)
    service = backend.name
    if settings.sync_backend == "codat":
        where, key_name, url_name = settings.codat_api_url, "CODAT_API_KEY", "CODAT_API_URL"
    else:
        where = "the embedded sandbox" if sandbox else (settings.sync2books_api_url or "")
        key_name, url_name = "SYNC2BOOKS_API_KEY", "SYNC2BOOKS_API_URL"
    try:
        if sandbox is not None:
            await sandbox.start()
        report(True, f"{service} ({where}): {await backend.ping()}")
    except Sync2BooksAPIError as exc:
        if exc.status == 401:
            report(False, f"{service} ({where}) refused the API key: {exc.message}. Check {key_name}.")
        else:
            report(False, f"{service} ({where}) answered {exc.status} {exc.code}: {exc.message}")
    except Sync2BooksError as exc:
        report(False, f"{service} could not be reached at {where} ({exc}): check {url_name}.")
    finally:
        await backend.aclose()
        if sandbox is not None:
            await sandbox.stop()

    db = Database(settings.effective_database_url)
    try:
        report(
            True, f"database: reachable, schema at revision {await db.current_revision() or 'none (applied at start)'}"
        )
    except (SQLAlchemyError, OSError) as exc:
        report(False, f"database could not be opened ({type(exc).__name__}): check DATABASE_URL.")
    finally:
        await db.dispose()
    return healthy


async def upgrade_database(settings: Settings, say: Callable[[str], None] = print) -> None:
    db = Database(settings.effective_database_url)
    try:
        await db.upgrade()
        say(f"database schema at revision {await db.current_revision()}")
    finally:
        await db.dispose()
