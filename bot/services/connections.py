"""Posting authorization links, listing connections, and unlinking them."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from apiclient import wire
from bot.backend import ConnectionStatus, ExpenseSyncBackend, ExpenseSyncError, ServiceConnection
from bot.messages import AuthLinkEntry, DisconnectedByUser, dump
from bot.messages import AuthLinks as LinksMessage
from bot.services.access import AccessPolicy
from bot.services.companies import CompanyService
from bot.services.observed import connection_record
from bot.services.refusals import Refusal, backend_trouble
from bot.services.work import WorkToSend
from storage.db import Database
from storage.repositories import Announcements, AuthLinks, Connections
from storage.tables import AuthLinkRecord, utcnow


def baseline_of(connections: list[ServiceConnection], software: str) -> str:
    """How that software's connection looks now; the link is used once this stops being true."""
    for connection in connections:
        if connection.integration_key == software and connection.status == ConnectionStatus.CONNECTED:
            return f"{connection.id}@{wire.utc_z(connection.updated_at)}"
    return ""


def signature(connection: ServiceConnection) -> str:
    return f"{connection.id}@{wire.utc_z(connection.updated_at)}"


# A link's baseline when the service named the connection the link becomes: that one, once connected, used it.
FOR_CONNECTION = "for:"

# The stored status of a connection the bot is unlinking right now: its own change, not news.
DISCONNECTING = "DISCONNECTING"


@dataclass(frozen=True)
class DisconnectPrompt:
    """What to ask before unlinking: the company, the software and the connection's id."""

    company_name: str
    connection_id: str
    software_name: str


class ConnectionService:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        access: AccessPolicy,
        companies: CompanyService,
        work: WorkToSend,
    ) -> None:
        self._db = db
        self._backend = backend
        self._access = access
        self._companies = companies
        self._work = work

    @property
    def service_name(self) -> str:
        return self._backend.name

    def software_names(self) -> str:
        """The software the running service connects to, as a user may type it."""
        return self._backend.software.valid_names()

    async def request_links(self, user_id: str, channel_id: str, software_text: str) -> list[str]:
        """Owe the channel a message with an authorization link per software asked for (all when none named)."""
        company = await self._companies.resolve(channel_id, user_id)
        await self._access.require_admin(user_id, "connect accounting software")
        catalog = self._backend.software
        if software_text.strip():
            software = catalog.parse(software_text)
            if software is None:
                raise Refusal(
                    f"I don't know the software “{{typed}}”. Choose {catalog.valid_names()}.",
                    typed=software_text.strip(),
                )
            softwares = [software.key]
        else:
            softwares = [item.key for item in catalog]
        try:
            current, links = await asyncio.gather(
                self._backend.connections(company.id),
                self._backend.auth_links(company.id, softwares),
            )
        except ExpenseSyncError as exc:
            raise backend_trouble(exc, self._backend, "asking for the authorization link") from exc
        records = [
            AuthLinkRecord(
                id=str(uuid.uuid4()),
                company_id=company.id,
                channel_id=channel_id,
                integration_key=software,
                platform_name=catalog.display_name(software),
                auth_url=link.url,
                requested_by=user_id,
                baseline=f"{FOR_CONNECTION}{link.connection_id}"
                if link.connection_id
                else baseline_of(current, software),
                expires_at=link.expires_at,
                created_at=utcnow(),
            )
            for software, link in zip(softwares, links, strict=True)
        ]
        message = LinksMessage(
            company_name=company.name,
            service=self._backend.name,
            user_id=user_id,
            links=[
                AuthLinkEntry(
                    id=record.id,
                    software=record.integration_key,
                    name=record.platform_name,
                    url=record.auth_url,
                    expires_at=wire.utc_z(record.expires_at) if record.expires_at else None,
                )
                for record in records
            ],
        )
        async with self._db.session() as session:
            await AuthLinks(session).add(*records)
            key = f"{message.KIND}:{records[0].id}"
            await Announcements(session).owe(key, channel_id, message.KIND, dump(message))
        self._work.announcements_owed()
        return softwares

    async def list(self, channel_id: str, user_id: str) -> tuple[str, list[ServiceConnection]]:
        """The company's name and its connections as the service reports them now."""
        company = await self._companies.resolve(channel_id, user_id)
        try:
            return company.name, await self._backend.connections(company.id)
        except ExpenseSyncError as exc:
            raise backend_trouble(exc, self._backend, "listing the connections") from exc

    async def prepare_disconnect(self, user_id: str, channel_id: str, target: str) -> DisconnectPrompt:
        """Find what ``target`` (a software name or a connection id) names, before asking for confirmation."""
        name, connections = await self.list(channel_id, user_id)
        await self._access.require_admin(user_id, "disconnect accounting software")
        target = target.strip()
        if not target:
            raise Refusal("Say what to disconnect: `/sync2books disconnect <software or connection id>`.")
        software = self._backend.software.parse(target)
        candidates = [
            c
            for c in connections
            if (c.id == target or (software is not None and c.integration_key == software.key))
            and c.status != ConnectionStatus.DISCONNECTED
        ]
        if not candidates:
            known = ", ".join(f"{c.platform_name} (`{c.id}`, {c.status.value.lower()})" for c in connections)
            raise Refusal(
                "*{name}* has no connected “{target}” to disconnect."
                + (" Its connections: {known}." if known else " It has no connections yet."),
                name=name,
                target=target,
                known=known,
            )
        connection = candidates[0]
        return DisconnectPrompt(name, connection.id, connection.platform_name)

    async def disconnect(self, user_id: str, channel_id: str, connection_id: str) -> DisconnectPrompt:
        """Unlink the connection and owe the channel the news; a second click changes nothing.

        The intent is recorded before the API is asked (status DISCONNECTING), so a watcher that looks in
        between knows the change is ours and leaves the news to this message.
        """
        company = await self._companies.resolve(channel_id, user_id)
        await self._access.require_admin(user_id, "disconnect accounting software")
        before = await self._mark_disconnecting(company.id, connection_id)
        try:
            connection = await self._backend.disconnect(company.id, connection_id)
        except ExpenseSyncError as exc:
            if before is not None:
                async with self._db.session() as session:
                    await Connections(session).change_status(connection_id, DISCONNECTING, before, None)
            raise backend_trouble(exc, self._backend, "disconnecting the connection", "that connection") from exc
        async with self._db.session() as session:
            connections = Connections(session)
            if not await connections.change_status(connection.id, DISCONNECTING, connection.status.value, None):
                await connections.record_new(connection_record(connection))
            news = DisconnectedByUser(
                company_name=company.name,
                software_name=connection.platform_name,
                command=self._backend.software.command_name(connection.integration_key),
                user_id=user_id,
            )
            key = f"disconnected:{connection.id}:{wire.utc_z(connection.updated_at)}"
            await Announcements(session).owe(key, channel_id, news.KIND, dump(news))
        self._work.announcements_owed()
        return DisconnectPrompt(company.name, connection.id, connection.platform_name)

    async def _mark_disconnecting(self, company_id: str, connection_id: str) -> str | None:
        """Mark a known connection DISCONNECTING; answers the status it had (None if unknown or already gone)."""
        async with self._db.session() as session:
            connections = Connections(session)
            known = await connections.get(connection_id)
            if known is not None and known.company_id != company_id:
                # A button's value names the connection; it must be this channel's company's.
                raise Refusal("That connection does not belong to this channel's company. Nothing was changed.")
            if known is None or known.status == ConnectionStatus.DISCONNECTED:
                return None
            if known.status == DISCONNECTING:
                return ConnectionStatus.CONNECTED.value
            await connections.change_status(connection_id, known.status, DISCONNECTING, known.error_message)
            return known.status
