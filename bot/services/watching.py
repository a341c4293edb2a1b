"""The scheduled look at every linked company: links used or expired, connections that broke.

Each fact is recorded with a conditional write and the message it owes in the same unit of work,
so two looks (two cycles, two processes, a restart in between) never report it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from apiclient import wire
from bot import messages as m
from bot import metrics
from bot.backend import ConnectionStatus, ExpenseSyncBackend, ExpenseSyncError, ServiceConnection
from bot.logs import log_context
from bot.services.connections import DISCONNECTING, FOR_CONNECTION, signature
from bot.services.observed import connection_record
from bot.services.work import AroundSend, WorkToSend
from bot.software import SoftwareCatalog
from storage.db import Database
from storage.repositories import Announcements, AuthLinks, Companies, Connections
from storage.states import AuthLinkState
from storage.tables import AuthLinkRecord, CompanyRecord, ConnectionRecord, utcnow

log = logging.getLogger(__name__)

L = TypeVar("L", bound=m.LinkNews)
C = TypeVar("C", bound=m.ConnectionNews)

MAX_SKIPPED_CYCLES = 32
CLOCK_SKEW = timedelta(minutes=5)
ABANDONED_DISCONNECT = timedelta(minutes=2)


@dataclass
class _Backoff:
    """Companies whose last look failed are looked at again after 1, 2, 4 … cycles, not every cycle."""

    failures: dict[str, int] = field(default_factory=dict)
    wait: dict[str, int] = field(default_factory=dict)

    def due(self, company_id: str) -> bool:
        left = self.wait.get(company_id, 0)
        if left > 0:
            self.wait[company_id] = left - 1
            return False
        return True

    def failed(self, company_id: str) -> None:
        count = self.failures.get(company_id, 0) + 1
        self.failures[company_id] = count
        self.wait[company_id] = min(MAX_SKIPPED_CYCLES, 2 ** (count - 1))

    def succeeded(self, company_id: str) -> None:
        self.failures.pop(company_id, None)
        self.wait.pop(company_id, None)


class ConnectionWatcher:
    def __init__(self, db: Database, backend: ExpenseSyncBackend, work: WorkToSend) -> None:
        self._db = db
        self._backend = backend
        self._work = work
        self._backoff = _Backoff()

    async def watch_connections(self) -> int:
        """One look at every linked company; answers how many messages it came to owe."""
        async with self._db.session() as session:
            companies = await Companies(session).watched()
            pending: dict[str, list[AuthLinkRecord]] = {}
            for link in await AuthLinks(session).pending():
                pending.setdefault(link.company_id, []).append(link)
        owed = 0
        for company in companies:
            if not self._backoff.due(company.id):
                continue
            with log_context(company_id=company.id):
                try:
                    connections = await self._backend.connections(company.id)
                except ExpenseSyncError as exc:
                    self._backoff.failed(company.id)
                    log.warning("could not look at %s's connections (%s); trying again later", company.name, exc)
                    continue
                self._backoff.succeeded(company.id)
                owed += await self._record(company, connections, pending.get(company.id, []))
        if owed:
            self._work.announcements_owed()
        metrics.look_finished("connections")
        return owed

    async def look_at(self, company_id: str) -> int:
        """One look at one company, now (a webhook said its connections changed); the same exactly-once writes."""
        async with self._db.session() as session:
            company = await Companies(session).get(company_id)
            if company is None or not await Companies(session).channels_of(company_id):
                return 0  # not ours, or nobody would read the news
            pending = [link for link in await AuthLinks(session).pending() if link.company_id == company_id]
        owed = await self._record(company, await self._backend.connections(company_id), pending)
        if owed:
            self._work.announcements_owed()
        return owed

    async def _record(
        self, company: CompanyRecord, connections: list[ServiceConnection], pending: list[AuthLinkRecord]
    ) -> int:
        now = utcnow()
        owed = 0
        catalog = self._backend.software
        async with self._db.session() as session:
            announcements = Announcements(session)
            links = AuthLinks(session)
            channels = await Companies(session).channels_of(company.id)
            completed_by_link: set[str] = set()
            for link in pending:
                used = _connection_for(link, connections)
                if used is not None and await links.finish(link.id, AuthLinkState.CONNECTED, used.id):
                    completed_by_link.add(used.id)
                    news = await _link_news(
                        m.LinkConnected,
                        links,
                        link,
                        company,
                        catalog,
                        self._backend.name,
                        state=AuthLinkState.CONNECTED,
                    )
                    owed += await announcements.owe(
                        f"link:{link.id}:connected", link.channel_id, news.KIND, m.dump(news)
                    )
                elif (
                    used is None
                    and link.expires_at is not None
                    and link.expires_at <= now
                    and await links.finish(link.id, AuthLinkState.EXPIRED)
                ):
                    expired = await _link_news(
                        m.LinkExpired, links, link, company, catalog, self._backend.name, state=AuthLinkState.EXPIRED
                    )
                    key = f"link:{link.id}:expired"
                    owed += await announcements.owe(key, link.channel_id, expired.KIND, m.dump(expired))

            known = {record.id: record for record in await Connections(session).for_company(company.id)}
            for connection in connections:
                record = known.get(connection.id)
                key = f"connection:{connection.id}:{connection.status.value}:{wire.utc_z(connection.updated_at)}"
                if record is None:
                    await Connections(session).record_new(connection_record(connection))
                    if connection.status == ConnectionStatus.CONNECTED and connection.id not in completed_by_link:
                        made = _connection_news(m.ConnectionConnected, company, connection, catalog, self._backend.name)
                        for channel in channels:
                            owed += await announcements.owe(key, channel, made.KIND, m.dump(made))
                    continue
                if record.status == connection.status.value:
                    continue
                if record.status == DISCONNECTING:
                    await self._settle_disconnecting(Connections(session), record, connection, now)
                    continue
                error = connection.error.message if connection.error else None
                if not await Connections(session).change_status(connection.id, record.status, connection.status, error):
                    continue
                kind: type[m.ConnectionNews]
                if connection.status in (ConnectionStatus.DISCONNECTED, ConnectionStatus.ERROR):
                    kind = m.ConnectionLost
                elif connection.id in completed_by_link:
                    continue  # the link's own message says it
                else:
                    kind = m.ConnectionRestored
                told = _connection_news(kind, company, connection, catalog, self._backend.name)
                for channel in channels:
                    owed += await announcements.owe(key, channel, told.KIND, m.dump(told))
        return owed

    @staticmethod
    async def _settle_disconnecting(
        connections: Connections, record: ConnectionRecord, connection: ServiceConnection, now: datetime
    ) -> None:
        """Our own unlinking: record where it ended, silently (the person who unlinked it was told)."""
        if connection.status != ConnectionStatus.CONNECTED:
            await connections.change_status(record.id, DISCONNECTING, connection.status.value, None)
        elif now - record.observed_at > ABANDONED_DISCONNECT:
            # The unlinking never reached the service (the bot stopped in between): it is still connected.
            await connections.change_status(record.id, DISCONNECTING, connection.status.value, None)


def _connection_for(link: AuthLinkRecord, connections: list[ServiceConnection]) -> ServiceConnection | None:
    if link.baseline.startswith(FOR_CONNECTION):
        wanted = link.baseline.removeprefix(FOR_CONNECTION)
        return next((c for c in connections if c.id == wanted and c.status == ConnectionStatus.CONNECTED), None)
    for connection in connections:
        if (
            connection.integration_key == link.integration_key
            and connection.status == ConnectionStatus.CONNECTED
            and signature(connection) != link.baseline
            and connection.updated_at >= _minus_skew(link.created_at)
        ):
            return connection
    return None


def _minus_skew(moment: datetime) -> datetime:
    """The service's clock may run a little behind ours; a connection made just after the link still counts."""
    return moment - CLOCK_SKEW


async def _link_news(
    news: type[L],
    links: AuthLinks,
    link: AuthLinkRecord,
    company: CompanyRecord,
    catalog: SoftwareCatalog,
    service: str,
    *,
    state: str,
) -> L:
    """The news, plus the whole link message as it should now read (its buttons for used links gone)."""
    siblings = await links.on_message(link.message_ts) if link.message_ts else [link]
    return news(
        company_name=company.name,
        software_name=link.platform_name,
        command=catalog.command_name(link.integration_key),
        link_message_ts=link.message_ts,
        link_message=m.AuthLinks(
            company_name=company.name,
            service=service,
            user_id=link.requested_by,
            links=_link_entries(siblings, {link.id: state}),
        ),
    )


def _link_entries(siblings: list[AuthLinkRecord], states: Mapping[str, str | None]) -> list[m.AuthLinkEntry]:
    return [
        m.AuthLinkEntry(
            id=sibling.id,
            software=sibling.integration_key,
            name=sibling.platform_name,
            url=sibling.auth_url,
            expires_at=wire.utc_z(sibling.expires_at) if sibling.expires_at else None,
            state=states.get(sibling.id, sibling.state),
        )
        for sibling in siblings
    ]


async def link_message_now(db: Database, news: m.LinkNews) -> m.LinkNews:
    """Just before a link's news is posted: the link message it edits, if that was posted after the look.

    The look can see a link used before the message carrying it has been recorded as sent (both run at once);
    without this the news would leave the used button in place.
    """
    message = news.link_message
    if news.link_message_ts or not message or not message.links:
        return news
    states = {entry.id: entry.state for entry in message.links}
    async with db.session() as session:
        links = AuthLinks(session)
        link = await links.get(message.links[0].id)
        if link is None or not link.message_ts:
            return news
        siblings = await links.on_message(link.message_ts)
    return news.model_copy(
        update={
            "link_message_ts": link.message_ts,
            "link_message": message.model_copy(update={"links": _link_entries(siblings, states)}),
        }
    )


class LinkNews(AroundSend):
    """``link_connected`` and ``link_expired``: the link message they edit, looked up again just before posting."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def before_send(self, message: m.Message) -> m.Message:
        return await link_message_now(self._db, m.expect(message, m.LinkNews))


def _connection_news(
    news: type[C], company: CompanyRecord, connection: ServiceConnection, catalog: SoftwareCatalog, service: str
) -> C:
    return news(
        company_name=company.name,
        service=service,
        software_name=connection.platform_name,
        status=connection.status.value,
        error_message=connection.error.message if connection.error else None,
        command=catalog.command_name(connection.integration_key),
    )
