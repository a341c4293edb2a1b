"""Composition: settings → database → expense-sync backend → Slack → services → handlers → jobs → HTTP.

One asyncio loop carries all of it: Bolt's AsyncApp, the httpx client, APScheduler's AsyncIOScheduler,
SQLAlchemy's async engine and uvicorn. With no ``SYNC2BOOKS_API_URL`` the sandbox runs in this process:
its pages are served under ``/sync2books`` by the same HTTP server, and the bot reaches its API through
httpx's ASGI transport, exactly as it would reach the real service over the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt import BoltResponse
from slack_bolt.async_app import AsyncApp

from bot.backend import ExpenseSyncBackend, ExpenseSyncError
from bot.codat_backend import CodatBackend
from bot.http_routes import add_operations_routes, add_webhook_routes
from bot.metrics import MeasuredTransport, SlackRequestMetrics
from bot.sealing import Sealer
from bot.services import Services
from bot.services.access import AccessPolicy
from bot.services.announcements import AnnouncementSender, Flood
from bot.services.batches import SUMMARY_AT, BatchWatcher
from bot.services.companies import CompanyService
from bot.services.connections import ConnectionService
from bot.services.duplicates import DuplicateGuard
from bot.services.expense_messages import ExpenseMessages, OutcomeThreads
from bot.services.expenses import ExpenseOutbox, ExpenseService
from bot.services.home import HomeService
from bot.services.leases import LookLeases
from bot.services.membership import Membership
from bot.services.operations import Operations
from bot.services.pacing import LookPace
from bot.services.readings import Reader, ReceiptReader
from bot.services.receipts import ReceiptService
from bot.services.reference import ReferenceData
from bot.services.watching import ConnectionWatcher, LinkNews
from bot.services.webhooks import CODAT, SYNC2BOOKS, WEBHOOK_PATH, WebhookInbox, WebhookSubscriber
from bot.settings import DATA_DIR, EMBEDDED_SANDBOX_PATH, Settings
from bot.slack import SlackDirectory, SlackFiles, SlackNotifier, web_client
from bot.slack_http import SlackEndpoint
from bot.sync2books_backend import Sync2BooksBackend
from codat.client import CodatClient
from handlers import register_all
from receipt_reading import ReceiptReading, read_receipt
from slack_ui.payloads import UNREADABLE
from storage.db import Database, DatabaseUnavailableError
from storage.repositories import Connections
from sync2books.client import Sync2BooksClient
from sync2books.sandbox.app import Sandbox

log = logging.getLogger(__name__)


class _QuietAboutOurClient(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when a client is given: we give our client on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("As you gave `client` as well")


logging.getLogger("slack_bolt.AsyncApp").addFilter(_QuietAboutOurClient())


class _QuietAboutATickStillRunning(logging.Filter):
    """A job still at work when its next tick comes is skipped on purpose (one run at a time): not worth a warning.

    Under a burst the sender works longer than its one-second interval, and APScheduler said so every second.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_QuietAboutATickStillRunning())

SEND_EVERY_SECONDS = 1.0
REFERENCE_REFRESH_SECONDS = 300.0
SHUTDOWN_GRACE_SECONDS = 10.0
SUBSCRIBE_RETRY_SECONDS = 60.0
# Threads that read receipts (OCR is CPU-bound): few, so reading never starves the event loop's own thread.
RECEIPT_READERS = 1


def reader() -> Reader:
    """How the bot reads a receipt: on this machine, in a worker thread (a test may put a slower one here)."""

    def read(data: bytes, mimetype: str, filename: str, base_currency: str | None) -> ReceiptReading:
        return read_receipt(data, mimetype, filename, base_currency=base_currency)

    return read


def build_backend(settings: Settings, sandbox: Sandbox | None) -> ExpenseSyncBackend:
    if settings.sync_backend == "codat":
        assert settings.codat_api_key is not None  # require_slack() has said so in a sentence
        measured = MeasuredTransport("codat")
        return CodatBackend(
            CodatClient(settings.codat_api_url, settings.codat_api_key.get_secret_value(), transport=measured)
        )
    key = settings.sync2books_api_key.get_secret_value()
    if sandbox is not None:
        embedded = httpx.ASGITransport(app=sandbox.app, root_path=EMBEDDED_SANDBOX_PATH)
        return Sync2BooksBackend(
            Sync2BooksClient(
                settings.public_url + EMBEDDED_SANDBOX_PATH, key, transport=MeasuredTransport("sync2books", embedded)
            )
        )
    assert settings.sync2books_api_url is not None
    return Sync2BooksBackend(
        Sync2BooksClient(settings.sync2books_api_url, key, transport=MeasuredTransport("sync2books"))
    )


def open_database(settings: Settings) -> Database:
    """The bot's store; DatabaseUnavailableError says, in a few words, why it cannot be."""
    if settings.database_url is None:
        # The default place is ours to make; a directory named in DATABASE_URL must exist already.
        try:
            DATA_DIR.mkdir(exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(f"the directory {DATA_DIR} cannot be made ({exc.strerror})") from None
    return Database(settings.effective_database_url)


SEND_ANNOUNCEMENTS = "send_announcements"
SEND_EXPENSES = "send_expenses"
UPLOAD_RECEIPTS = "upload_receipts"


class Jobs:
    """The scheduled jobs, guarded so that a failing run logs one line and the next run still comes.

    It is the services' ``WorkToSend``: told that work was stored, the job that does it runs now.
    """

    def __init__(self) -> None:
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[Any]] = set()

    def every(self, seconds: float, job: Callable[[], Awaitable[Any]], job_id: str, *, now: bool = True) -> None:
        async def guarded() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except asyncio.CancelledError:
                log.info("scheduled job %s stopped at shutdown; its work is picked up at the next start", job_id)
            except Exception as exc:
                log.error("scheduled job %s failed: %s: %s", job_id, type(exc).__name__, exc)
                log.debug("details", exc_info=True)
            finally:
                self._running.discard(task)

        self.scheduler.add_job(
            guarded,
            "interval",
            seconds=seconds,
            id=job_id,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) if now else None,
            misfire_grace_time=None,
        )

    def run_soon(self, job_id: str) -> None:
        """Bring a job's next run forward to now (it runs after the current one, if one is running)."""
        if not self.scheduler.running:
            return
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))

    def announcements_owed(self) -> None:
        self.run_soon(SEND_ANNOUNCEMENTS)

    def expenses_waiting(self) -> None:
        self.run_soon(SEND_EXPENSES)
        self.announcements_owed()

    def receipts_waiting(self) -> None:
        self.run_soon(UPLOAD_RECEIPTS)

    async def stop(self) -> None:
        """Stop scheduling; let runs under way finish (their work is also safe to redo at the next start)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._running:
            _, late = await asyncio.wait(self._running, timeout=SHUTDOWN_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=SHUTDOWN_GRACE_SECONDS)


class BotRuntime:
    def __init__(self, settings: Settings) -> None:
        settings.require_slack()
        assert settings.slack_bot_token is not None
        self.settings = settings
        self.db = open_database(settings)
        self.sandbox = Sandbox(DATA_DIR / "sandbox.sqlite3") if settings.embedded_sandbox else None
        self.backend = build_backend(settings, self.sandbox)
        self.slack = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.jobs = Jobs()
        directory = SlackDirectory(self.slack)
        access = AccessPolicy(directory, settings.admin_user_ids)

        work = self.jobs
        notifier = SlackNotifier(self.slack)
        companies = CompanyService(self.db, self.backend, access, work)
        self.reference = ReferenceData(self.db, self.backend)
        messages = ExpenseMessages(self.db, notifier)
        files = SlackFiles(self.slack, settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        self.readers = ThreadPoolExecutor(max_workers=RECEIPT_READERS, thread_name_prefix="receipt-reader")
        self.reader = ReceiptReader(self.db, files, reader(), self.readers, work)
        self.services = Services(
            access=access,
            companies=companies,
            connections=ConnectionService(self.db, self.backend, access, companies, work),
            home=HomeService(self.db, directory),
            membership=Membership(self.db, directory, work),
            deliveries=DuplicateGuard(self.db),
            expenses=ExpenseService(self.db, self.backend, companies, self.reference, access, work),
            receipts=ReceiptService(
                self.db,
                self.backend,
                files,
                access,
                work,
                self.reader,
            ),
            reference=self.reference,
        )
        self.outbox = ExpenseOutbox(self.db, self.backend, messages, work)
        self.batches = BatchWatcher(self.db, self.backend, messages, work)
        self.watcher = ConnectionWatcher(self.db, self.backend, work)
        link_news = LinkNews(self.db)
        self.sender = AnnouncementSender(
            self.db,
            notifier,
            around_send={
                "expense_submitted": messages,
                "expense_outcome": OutcomeThreads(messages),
                "link_connected": link_news,
                "link_expired": link_news,
            },
            floods={"expense_outcome": Flood("outcome_summary", SUMMARY_AT)},
        )
        self.bolt = AsyncApp(
            client=self.slack,
            signing_secret=settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "",
            request_verification_enabled=not settings.socket_mode,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
        )
        register_all(self.bolt, self.services)
        self.bolt.error(self._on_listener_error)
        self.pace = LookPace()
        self.leases = LookLeases(self.db, settings.poll_interval_seconds)
        self.subscriber, self.inbox = self._webhooks()
        self.http_app = self._http_app()

    def _webhooks(self) -> tuple[WebhookSubscriber | None, WebhookInbox]:
        """Webhooks from Sync2Books when PUBLIC_URL says where it can reach us; Codat's when its secret is set."""
        settings = self.settings
        secrets: dict[str, Callable[[], Awaitable[str | None]]] = {}
        subscriber, sync2books = None, None
        if settings.webhooks_enabled and isinstance(self.backend, Sync2BooksBackend):
            sync2books = self.backend
            url = settings.public_url + WEBHOOK_PATH.format(source=SYNC2BOOKS)
            subscriber = WebhookSubscriber(self.db, self.backend, Sealer(settings.token_encryption_key), url)
            secrets[SYNC2BOOKS] = subscriber.secret
        if settings.codat_webhook_secret is not None and settings.sync_backend == "codat":
            codat_secret = settings.codat_webhook_secret.get_secret_value()

            async def codat() -> str | None:
                return codat_secret

            secrets[CODAT] = codat
        inbox = WebhookInbox(self.db, self.backend, self.batches, self.watcher, self.pace, secrets, sync2books)
        return subscriber, inbox

    def _paced(self, look: str, job: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[None]]:
        """The look, less often while webhooks flow, and made by one process per cycle among all of them."""

        async def paced() -> None:
            if self.pace.due(look) and await self.leases.take(look):
                self.pace.looked(found_news=await job() > 0)
                await self.leases.keep(look)

        return paced

    @staticmethod
    async def _on_listener_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        log.error("listener failed for a %s: %s: %s", body.get("type", "request"), type(error).__name__, error)
        log.debug("details", exc_info=error)
        if response is not None:
            # Not acknowledged yet: Slack gets a plain refusal, not Bolt's 500.
            return BoltResponse(status=400, body=UNREADABLE)
        return None

    def _http_app(self) -> FastAPI:
        app = FastAPI(title="Sync2Books for Slack", docs_url=None, redoc_url=None, openapi_url=None)
        if not self.settings.socket_mode:
            assert self.settings.slack_signing_secret is not None  # require_slack() has said so in a sentence
            endpoint = SlackEndpoint(self.bolt, self.settings.slack_signing_secret.get_secret_value())

            @app.post("/slack/events")
            async def slack_events(request: Request) -> Response:
                return await endpoint.handle(request)

        add_webhook_routes(app, self.inbox)
        add_operations_routes(app, Operations(self.db, self.backend))
        app.add_middleware(SlackRequestMetrics)

        @app.get("/healthz")
        async def healthz() -> JSONResponse:
            return JSONResponse({"ok": True, "mode": "socket" if self.settings.socket_mode else "http"})

        if self.sandbox is not None:
            app.mount(EMBEDDED_SANDBOX_PATH, self.sandbox.app)
        return app

    async def start(self) -> None:
        await self.db.upgrade()
        if self.sandbox is not None:
            await self.sandbox.start()
        self._subscribed = self.subscriber is None
        if self.subscriber is not None:
            try:
                await self.subscriber.ensure()
                self._subscribed = True
            except ExpenseSyncError as exc:
                log.warning("could not subscribe to Sync2Books webhooks (%s); trying again every minute", exc)

    def start_jobs(self) -> None:
        interval = self.settings.poll_interval_seconds
        self.jobs.every(interval, self._paced("connections", self.watcher.watch_connections), "watch_connections")
        self.jobs.every(SEND_EVERY_SECONDS, self.sender.send_due, SEND_ANNOUNCEMENTS)
        self.jobs.every(SEND_EVERY_SECONDS, self.outbox.send_waiting, SEND_EXPENSES)
        self.jobs.every(interval, self._paced("batches", self.batches.watch_sync_batches), "watch_sync_batches")
        if self.subscriber is not None and not self._subscribed:
            self.jobs.every(SUBSCRIBE_RETRY_SECONDS, self.subscriber.ensure, "subscribe_webhooks", now=False)
        self.jobs.every(2 * SEND_EVERY_SECONDS, self.services.receipts.upload_waiting, UPLOAD_RECEIPTS)
        self.jobs.every(REFERENCE_REFRESH_SECONDS, self._refresh_reference, "refresh_reference_data")
        self.jobs.every(3600, self.services.deliveries.forget_old, "forget_old_deliveries")
        self.jobs.scheduler.start()

    async def _refresh_reference(self) -> None:
        async with self.db.session() as session:
            connected = await Connections(session).connected()
        await self.reference.refresh_stale([record.id for record in connected])

    async def stop(self) -> None:
        await self.jobs.stop()
        await self.reader.settle()
        self.readers.shutdown(wait=False, cancel_futures=True)
        await self.leases.release()
        await self.reference.settle()
        await self.batches.settle()
        await self.backend.aclose()
        if self.sandbox is not None:
            await self.sandbox.stop()
        await self.db.dispose()
