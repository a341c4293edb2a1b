"""Companies, the channels linked to them, their connections and the authorization links posted for them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage.repositories._sql import changed, insert_new
from storage.states import CONNECTED, AuthLinkState
from storage.tables import AuthLinkRecord, ChannelLink, CompanyRecord, ConnectionRecord, utcnow


class Companies:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, company: CompanyRecord) -> None:
        await self.session.merge(company)
        # Written now: rows that point at the company (links, connections) may follow in this unit of work.
        await self.session.flush()

    async def get(self, company_id: str) -> CompanyRecord | None:
        return await self.session.get(CompanyRecord, company_id)

    async def link_channel(self, channel_id: str, company_id: str, user_id: str) -> bool:
        """Link the channel; False when it is already linked (to this company or another)."""
        values = {"channel_id": channel_id, "company_id": company_id, "linked_by": user_id, "linked_at": utcnow()}
        return await insert_new(self.session, ChannelLink, values, "channel_id")

    async def for_channel(self, channel_id: str) -> CompanyRecord | None:
        statement = (
            select(CompanyRecord)
            .join(ChannelLink, col(ChannelLink.company_id) == col(CompanyRecord.id))
            .where(col(ChannelLink.channel_id) == channel_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def linked_by(self, channel_id: str) -> str | None:
        """Who linked the channel to its company: the admin to tell what the channel needs."""
        statement = select(col(ChannelLink.linked_by)).where(col(ChannelLink.channel_id) == channel_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def channels_of(self, company_id: str) -> list[str]:
        statement = select(col(ChannelLink.channel_id)).where(col(ChannelLink.company_id) == company_id)
        return list((await self.session.execute(statement)).scalars())

    async def linked_to_channels(self, channel_ids: Sequence[str]) -> list[tuple[str, CompanyRecord]]:
        """(channel, company) for each of these channels that is linked."""
        if not channel_ids:
            return []
        statement = (
            select(col(ChannelLink.channel_id), CompanyRecord)
            .join(CompanyRecord, col(ChannelLink.company_id) == col(CompanyRecord.id))
            .where(col(ChannelLink.channel_id).in_(channel_ids))
            .order_by(col(CompanyRecord.name))
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def watched(self) -> list[CompanyRecord]:
        """Companies linked to at least one channel: the ones whose news someone will read."""
        linked = select(col(ChannelLink.company_id))
        statement = select(CompanyRecord).where(col(CompanyRecord.id).in_(linked))
        return list((await self.session.execute(statement)).scalars())


class Connections:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_company(self, company_id: str) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.company_id) == company_id)
        return list((await self.session.execute(statement)).scalars())

    async def for_companies(self, company_ids: Sequence[str]) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.company_id).in_(company_ids))
        return list((await self.session.execute(statement)).scalars())

    async def get(self, connection_id: str) -> ConnectionRecord | None:
        return await self.session.get(ConnectionRecord, connection_id)

    async def connected(self) -> list[ConnectionRecord]:
        statement = select(ConnectionRecord).where(col(ConnectionRecord.status) == CONNECTED)
        return list((await self.session.execute(statement)).scalars())

    async def connected_of(self, company_id: str) -> list[ConnectionRecord]:
        """The company's connections that are connected now, as last observed."""
        return [c for c in await self.for_company(company_id) if c.status == CONNECTED]

    async def record_new(self, record: ConnectionRecord) -> bool:
        """Remember a connection seen for the first time; False if another look got there first."""
        return await insert_new(self.session, ConnectionRecord, record.model_dump(), "id")

    async def change_status(self, connection_id: str, expected: str, status: str, error_message: str | None) -> bool:
        """Move from ``expected`` to ``status``; False if someone else already moved it (no double news)."""
        statement = (
            update(ConnectionRecord)
            .where(col(ConnectionRecord.id) == connection_id, col(ConnectionRecord.status) == expected)
            .values(status=status, error_message=error_message, observed_at=utcnow())
        )
        return await changed(self.session, statement) == 1


class AuthLinks:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, *links: AuthLinkRecord) -> None:
        """Record links (written now: the message that carries them is owed next)."""
        self.session.add_all(links)
        await self.session.flush()

    async def set_message(self, link_ids: Sequence[str], message_ts: str) -> None:
        statement = update(AuthLinkRecord).where(col(AuthLinkRecord.id).in_(link_ids)).values(message_ts=message_ts)
        await self.session.execute(statement)

    async def pending(self) -> list[AuthLinkRecord]:
        statement = (
            select(AuthLinkRecord)
            .where(col(AuthLinkRecord.state) == AuthLinkState.PENDING)
            .order_by(col(AuthLinkRecord.created_at))
        )
        return list((await self.session.execute(statement)).scalars())

    async def get(self, link_id: str) -> AuthLinkRecord | None:
        return await self.session.get(AuthLinkRecord, link_id)

    async def on_message(self, message_ts: str) -> list[AuthLinkRecord]:
        statement = select(AuthLinkRecord).where(col(AuthLinkRecord.message_ts) == message_ts)
        return list((await self.session.execute(statement)).scalars())

    async def finish(self, link_id: str, state: AuthLinkState, connection_id: str | None = None) -> bool:
        """pending → ``state``; False if it was no longer pending (another look finished it)."""
        statement = (
            update(AuthLinkRecord)
            .where(col(AuthLinkRecord.id) == link_id, col(AuthLinkRecord.state) == AuthLinkState.PENDING)
            .values(state=state, connection_id=connection_id)
        )
        return await changed(self.session, statement) == 1
