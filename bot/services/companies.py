"""Registering a company and linking a channel to it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bot.backend import Company, ExpenseSyncBackend, ExpenseSyncError, ServiceConnection
from bot.messages import CompanyLinked, CompanyNews, CompanyRegistered, dump
from bot.services.access import AccessPolicy
from bot.services.observed import connection_record
from bot.services.refusals import NotLinked, Refusal, backend_trouble
from bot.services.text import control_character_problem
from bot.services.work import WorkToSend
from storage.db import Database
from storage.repositories import Announcements, Companies, Connections
from storage.tables import CompanyRecord, utcnow

MAX_NAME_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 2000


def is_direct_message(channel_id: str) -> bool:
    return channel_id.startswith("D")


def description_problem(description: str) -> str | None:
    """Why a company description cannot be used, in plain words, or None."""
    if len(description.strip()) > MAX_DESCRIPTION_LENGTH:
        return f"A description can have at most {MAX_DESCRIPTION_LENGTH} characters."
    return control_character_problem(description, "The description", multiline=True)


def name_problem(name: str) -> str | None:
    """Why a company name cannot be used, in plain words, or None."""
    stripped = name.strip()
    if not stripped:
        return "Give the company a name."
    if problem := control_character_problem(stripped, "The company name"):
        return problem
    if len(stripped) > MAX_NAME_LENGTH:
        return f"A company name can have at most {MAX_NAME_LENGTH} characters (this one has {len(stripped)})."
    return None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


@dataclass(frozen=True)
class LinkedCompany:
    id: str
    name: str


class CompanyService:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        access: AccessPolicy,
        work: WorkToSend,
    ) -> None:
        self._db = db
        self._backend = backend
        self._access = access
        self._work = work

    async def resolve(self, channel_id: str | None, user_id: str) -> LinkedCompany:
        """The company a command acts on: the channel's, or in a direct message (or a shortcut, which has no
        channel) the user's only one.

        NotLinked when there is none; a Refusal that names them when it could mean several.
        """
        company = None
        if channel_id is not None:
            async with self._db.session() as session:
                company = await Companies(session).for_channel(channel_id)
        if company is not None:
            await self._access.require_member(user_id, [channel_id or ""])
            return LinkedCompany(company.id, company.name)
        if channel_id is None or is_direct_message(channel_id):
            channels = await self._access.channels_of(user_id, fresh=True)
            async with self._db.session() as session:
                linked = await Companies(session).linked_to_channels(sorted(channels))
            companies = {c.id: (c.name, channel) for channel, c in linked}
            if len(companies) == 1:
                ((company_id, (name, _)),) = companies.items()
                return LinkedCompany(company_id, name)
            if len(companies) > 1:
                # Names come from people, channels from Slack's own answer: only the names are outside text.
                listed = list(companies.values())
                names = ", ".join(f"*{{name{i}}}* (<#{channel}>)" for i, (_, channel) in enumerate(listed))
                raise Refusal(
                    f"You are in channels of several companies: {names}. Run the command in that company's channel.",
                    **{f"name{i}": name for i, (name, _) in enumerate(listed)},
                )
            raise NotLinked(
                "None of your channels is linked to a company yet. In a channel, an admin can run "
                "`/sync2books register <company name>` or `/sync2books link <company id>`."
            )
        raise NotLinked(
            "This channel is not linked to a company yet. An admin can run "
            "`/sync2books register <company name>` to create one, or `/sync2books link <company id>`."
        )

    async def _refuse_if_linked(self, channel_id: str) -> None:
        async with self._db.session() as session:
            existing = await Companies(session).for_channel(channel_id)
        if existing is not None:
            raise Refusal(
                "This channel is already linked to *{name}* (`{id}`). Nothing was changed.",
                name=existing.name,
                id=existing.id,
            )

    async def check_can_register(self, user_id: str, channel_id: str) -> None:
        """The refusals that need no name, so the modal is not even opened for them."""
        await self._access.require_admin(user_id, "register a company")
        await self._refuse_if_linked(channel_id)

    async def register(self, user_id: str, channel_id: str, name: str, description: str | None) -> LinkedCompany:
        await self.check_can_register(user_id, channel_id)
        problem = (
            name_problem(name)
            or description_problem(description or "")
            or self._backend.company_name_problem(name.strip())
        )
        if problem:
            raise Refusal("{problem}", problem=problem)
        try:
            company = await self._backend.create_company(name.strip(), (description or "").strip() or None)
        except ExpenseSyncError as exc:
            raise backend_trouble(exc, self._backend, "registering the company") from exc
        linked = await self._adopt(company, [], user_id, channel_id, news=CompanyRegistered)
        if not linked:
            # Another registration linked the channel while ours was being created: say so, keep theirs.
            raise Refusal(
                "This channel was linked to another company while *{name}* was being registered. "
                f"*{{name}}* exists in {self._backend.name} as `{{id}}`; "
                "link it to another channel with `/sync2books link`.",
                name=company.name,
                id=company.id,
            )
        return LinkedCompany(company.id, company.name)

    async def link(self, user_id: str, channel_id: str, company_id: str) -> LinkedCompany:
        await self._access.require_admin(user_id, "link a channel to a company")
        await self._refuse_if_linked(channel_id)
        if not company_id.strip():
            raise Refusal("Say which company: `/sync2books link <company id>`.")
        if not _is_uuid(company_id.strip()):
            raise Refusal(
                "“{typed}” is not a company id: ids look like `3f2c9e1a-5b7d-4c8e-9a1f-2b3c4d5e6f70`.",
                typed=company_id.strip()[:100],
            )
        try:
            company = await self._backend.get_company(company_id.strip())
            connections = await self._backend.connections(company.id)
        except ExpenseSyncError as exc:
            raise backend_trouble(exc, self._backend, "looking up that company", "that company") from exc
        if not await self._adopt(company, connections, user_id, channel_id, news=CompanyLinked):
            await self._refuse_if_linked(channel_id)
        return LinkedCompany(company.id, company.name)

    async def _adopt(
        self,
        company: Company,
        connections: list[ServiceConnection],
        user_id: str,
        channel_id: str,
        *,
        news: type[CompanyNews],
    ) -> bool:
        """Remember the company, link the channel, and owe the channel the news: one unit of work.

        The company's existing connections are recorded as already known, so the watcher reports only
        what changes from here on.
        """
        async with self._db.session() as session:
            companies = Companies(session)
            if await companies.get(company.id) is None:
                record = CompanyRecord(
                    id=company.id,
                    name=company.name,
                    description=company.description,
                    registered_by=user_id,
                    created_at=utcnow(),
                )
                await companies.save(record)
            if not await companies.link_channel(channel_id, company.id, user_id):
                return False
            for connection in connections:
                await Connections(session).record_new(connection_record(connection))
            told = news(company_id=company.id, company_name=company.name, service=self._backend.name, user_id=user_id)
            key = f"{told.KIND}:{company.id}:{channel_id}"
            await Announcements(session).owe(key, channel_id, told.KIND, dump(told))
        self._work.announcements_owed()
        return True
