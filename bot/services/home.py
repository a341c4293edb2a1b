"""What the App Home shows a user: the companies of the channels they are in, with their connections."""

from __future__ import annotations

from dataclasses import dataclass

from bot.ports import Directory
from storage.db import Database
from storage.repositories import Companies, Connections


@dataclass(frozen=True)
class HomeConnection:
    software_name: str
    status: str
    error_message: str | None


@dataclass(frozen=True)
class HomeCompany:
    name: str
    channel_ids: tuple[str, ...]
    connections: tuple[HomeConnection, ...]


class HomeService:
    def __init__(self, db: Database, directory: Directory) -> None:
        self._db = db
        self._directory = directory

    async def companies_for(self, user_id: str) -> list[HomeCompany]:
        channels = await self._directory.channels_of(user_id)
        async with self._db.session() as session:
            linked = await Companies(session).linked_to_channels(channels)
            by_company: dict[str, list[str]] = {}
            names: dict[str, str] = {}
            for channel, company in linked:
                by_company.setdefault(company.id, []).append(channel)
                names[company.id] = company.name
            records = await Connections(session).for_companies(list(by_company))
        connections: dict[str, list[HomeConnection]] = {}
        for record in sorted(records, key=lambda r: r.platform_name):
            connections.setdefault(record.company_id, []).append(
                HomeConnection(record.platform_name, record.status, record.error_message)
            )
        return [
            HomeCompany(names[company_id], tuple(channels_), tuple(connections.get(company_id, [])))
            for company_id, channels_ in sorted(by_company.items(), key=lambda item: names[item[0]].lower())
        ]
