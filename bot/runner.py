"""Running the bot until SIGINT/SIGTERM, and ``check``: what is wrong with the configuration, in plain words."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import aiohttp
import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import BotRuntime, build_backend, open_database
from bot.backend import ExpenseSyncError
from bot.settings import DATA_DIR, EMBEDDED_SANDBOX_PATH, ConfigError, Settings, StartError, hide_password
from bot.slack import web_client
from storage.db import DatabaseUnavailableError
from sync2books.sandbox.app import Sandbox
from sync2books.sandbox.server import bind_socket

log = logging.getLogger(__name__)

# Slack's websocket answers within a second; a first connection not made in this time is not going to be.
SOCKET_CONNECT_SECONDS = 10.0


def database_problem(settings: Settings, exc: DatabaseUnavailableError) -> str:
    return f"The database cannot be used: {exc}; check DATABASE_URL ({hide_password(settings.effective_database_url)})."


async def verify_bot_token(slack: AsyncWebClient, settings: Settings) -> str:
    """Who the bot token is (``auth.test``), or StartError saying in one sentence why Slack did not say."""
    where = hide_password(settings.slack_api_url)
    try:
        answer = await slack.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "not_allowed_token_type"):
            raise StartError(f"Slack refused the bot token ({error}): check SLACK_BOT_TOKEN.") from None
        if error is None:
            raise StartError(
                f"{where} answered HTTP {exc.response.status_code}, not as Slack's Web API: check SLACK_API_URL."
            ) from None
        raise StartError(f"Slack answered auth.test with an error ({error}).") from None
    except (SlackClientError, aiohttp.ClientError, OSError) as exc:
        raise StartError(f"Slack could not be reached at {where} ({_failure(exc)}): check SLACK_API_URL.") from None
    return f"connected to {answer.get('team')} as @{answer.get('user')}"


def _failure(exc: BaseException) -> str:
    """What went wrong with a connection, in a few words."""
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"the websocket handshake was refused with HTTP {exc.status}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


class _QuietFirstConnect(logging.Filter):
    """Keeps slack_sdk's lines about a first connection that fails off the console ("Failed to connect… Retrying"
    with a traceback each time, "The current session () has been abandoned" when it is given up).

    The start then either connects or ends in one sentence that names the last failure seen here.
    """

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Failed to connect"):
            if record.exc_info and record.exc_info[1] is not None:
                self.last = _failure(record.exc_info[1])
            return False
        return not message.startswith("The current session () has been abandoned")


async def connect_socket_mode(
    socket_mode: AsyncSocketModeHandler, slack: AsyncWebClient, app_token: str, failures: _QuietFirstConnect
) -> None:
    """The first Socket Mode connection within SOCKET_CONNECT_SECONDS, or StartError saying why not."""
    # Asked once here: slack_sdk would retry a refused app token forever, deaf to SIGTERM.
    url = await open_socket_url(slack, app_token)
    socket_mode.client.wss_uri = url
    parts = urlsplit(url)  # the URL's query is a one-time ticket: only where it points is told
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    try:
        await asyncio.wait_for(socket_mode.connect_async(), SOCKET_CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except TimeoutError:
        why = failures.last or "it did not answer"
        raise StartError(
            f"Slack's Socket Mode websocket at {where} could not be reached in {SOCKET_CONNECT_SECONDS:g} s ({why}): "
            "check that this machine may open websockets to Slack (a firewall or proxy?)."
        ) from None


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
        self._socket_mode: AsyncSocketModeHandler | None = None
        self._quiet = _QuietFirstConnect()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Task[None] | None = None
        self._stop_requested = False

    @property
    def url(self) -> str:
        return self.settings.public_url

    def request_stop(self) -> None:
        """Ask the bot to stop, at any moment of its start too; safe from a signal handler or another thread."""
        self._server.should_exit = True
        self._stop_requested = True
        if self._loop is not None and self._starting is not None:
            self._loop.call_soon_threadsafe(self._starting.cancel)

    async def serve(self, on_ready: Callable[[str], None] = print) -> None:
        """Start everything, serve until asked to stop, then stop in order: no new work, finish what runs."""
        self._loop = asyncio.get_running_loop()
        self._starting = asyncio.create_task(self._start())
        if self._stop_requested:
            self._starting.cancel()
        try:
            try:
                await self._starting
            except asyncio.CancelledError:
                this = asyncio.current_task()
                if self._stop_requested and (this is None or not this.cancelling()):
                    return  # asked to stop while starting: what was started is stopped below
                raise
            serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
            while not self._server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
                await asyncio.sleep(0.02)
            if self._server.started:
                on_ready(self._ready_line())
            await serving
        finally:
            if self._socket_mode is not None:
                await self._socket_mode.close_async()  # type: ignore[no-untyped-call]
                self._socket_mode.client.logger.removeFilter(self._quiet)
            await self.runtime.stop()
            self._sock.close()

    async def _start(self) -> None:
        settings = self.settings
        # As `check` does: a wrong SLACK_API_URL or a revoked token is told now, not at the first command.
        await verify_bot_token(self.runtime.slack, settings)
        try:
            await self.runtime.start()
        except DatabaseUnavailableError as exc:
            raise StartError(database_problem(settings, exc)) from None
        if settings.socket_mode:
            assert settings.slack_app_token is not None
            app_token = settings.slack_app_token.get_secret_value()
            self._socket_mode = AsyncSocketModeHandler(self.runtime.bolt, app_token)
            self._socket_mode.client.logger.addFilter(self._quiet)
            await connect_socket_mode(self._socket_mode, self.runtime.slack, app_token, self._quiet)
            self._socket_mode.client.logger.removeFilter(self._quiet)
        # Only once Slack can be heard from: jobs that find work would otherwise be stopped at once by a failed start.
        self.runtime.start_jobs()

    def _ready_line(self) -> str:
        url = self.settings.public_url
        mode = "Socket Mode" if self.settings.socket_mode else f"HTTP mode: Slack sends to {url}/slack/events"
        sandbox = f"; Sync2Books sandbox at {url}{EMBEDDED_SANDBOX_PATH}" if self.runtime.sandbox else ""
        if self.settings.sync_backend == "codat":
            sandbox = f"; expenses sync through Codat at {self.settings.codat_api_url}"
        return f"Sync2Books bot ready ({mode}{sandbox})"


async def run_bot(settings: Settings, *, on_ready: Callable[[str], None] = print) -> None:
    """Serve until SIGINT or SIGTERM."""
    try:
        server = BotServer(settings)
    except DatabaseUnavailableError as exc:
        raise StartError(database_problem(settings, exc)) from None
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
        report(True, f"Slack: {await verify_bot_token(slack, settings)}")
    except StartError as exc:
        report(False, str(exc))
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
    except ExpenseSyncError as exc:
        if exc.status == 401:
            report(False, f"{service} ({where}) refused the API key: {exc.message}. Check {key_name}.")
        elif exc.status is not None:
            report(False, f"{service} ({where}) answered {exc.status} {exc.code}: {exc.message}")
        else:  # no answer came
            report(False, f"{service} could not be reached at {where} ({exc}): check {url_name}.")
    finally:
        await backend.aclose()
        if sandbox is not None:
            await sandbox.stop()

    try:
        db = open_database(settings)
    except DatabaseUnavailableError as exc:
        report(False, database_problem(settings, exc))
        return False
    try:
        report(
            True, f"database: reachable, schema at revision {await db.current_revision() or 'none (applied at start)'}"
        )
    except DatabaseUnavailableError as exc:
        report(False, database_problem(settings, exc))
    finally:
        await db.dispose()
    return healthy


async def upgrade_database(settings: Settings, say: Callable[[str], None] = print) -> None:
    try:
        db = open_database(settings)
    except DatabaseUnavailableError as exc:
        raise StartError(database_problem(settings, exc)) from None
    try:
        await db.upgrade()
        say(f"database schema at revision {await db.current_revision()}")
    except DatabaseUnavailableError as exc:
        raise StartError(database_problem(settings, exc)) from None
    finally:
        await db.dispose()
