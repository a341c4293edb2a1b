"""The services themselves, against the port in memory (``FakeBackend``) and a real SQLite file: no HTTP, no Slack.

Each test is the same use-case an end-to-end test drives through Slack and a real server, in milliseconds: what the
services decide and record, whichever service sits behind the port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from bot.backend import KeyRefused, Problem, Rejected
from bot.ports import SlackUser
from bot.services.access import AccessPolicy
from bot.services.batches import BatchWatcher
from bot.services.companies import CompanyService
from bot.services.expense_form import ExpenseInput, LineInput
from bot.services.expenses import ExpenseOutbox, ExpenseService
from bot.services.reference import ReferenceData
from bot.services.refusals import Refusal
from bot.services.watching import ConnectionWatcher
from bot.services.work import NoWorkToSend
from storage.db import Database
from storage.repositories import Companies, Connections
from storage.tables import OutboxExpense
from tests.support.fake_backend import FakeBackend

ADMIN, MEMBER, CHANNEL = "UADMIN", "UMEMBER", "C0FAST"


class Directory:
    """Slack's directory as the services ask it: the admin is listed in ADMIN_USER_IDS, the member is in CHANNEL."""

    async def user(self, user_id: str) -> SlackUser:
        return SlackUser(user_id, user_id.lower(), is_admin=False, is_owner=False)

    async def channels_of(self, user_id: str) -> list[str]:
        return [CHANNEL]

    async def bot_is_member(self, channel_id: str) -> bool:
        return True


@dataclass
class Services:
    db: Database
    backend: FakeBackend
    companies: CompanyService
    expenses: ExpenseService
    outbox: ExpenseOutbox
    watcher: ConnectionWatcher
    batches: BatchWatcher
    reference: ReferenceData
    refreshed: list[str] = field(default_factory=list)


@dataclass
class RecordedRefreshes:
    """The expense messages the services asked to have rewritten, by expense id."""

    refreshed: list[str]

    async def refresh(self, record: OutboxExpense) -> None:
        self.refreshed.append(record.id)


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    db = Database(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    await db.upgrade()
    backend = FakeBackend()
    access = AccessPolicy(Directory(), frozenset({ADMIN}))
    refreshed: list[str] = []
    refresh = RecordedRefreshes(refreshed)
    nothing = NoWorkToSend()
    companies = CompanyService(db, backend, access, nothing)
    reference = ReferenceData(db, backend)
    yield Services(
        db=db,
        backend=backend,
        companies=companies,
        expenses=ExpenseService(db, backend, companies, reference, access, nothing),
        outbox=ExpenseOutbox(db, backend, refresh, nothing),
        watcher=ConnectionWatcher(db, backend, nothing),
        batches=BatchWatcher(db, backend, refresh, nothing),
        reference=reference,
        refreshed=refreshed,
    )
    await reference.settle()  # the reference refreshes a modal starts in the background
    await db.dispose()


def lunch(net: str = "12.50") -> ExpenseInput:
    return ExpenseInput(
        expense_type="Payment",
        issue_date=date.today().isoformat(),
        currency="USD",
        merchant="Corner Café",
        lines=(LineInput(account_id="acc-1", tax_rate_id="tax-1", net_amount=net, tax_amount="0"),),
    )


async def connected_company(s: Services) -> str:
    """A registered company with one CONNECTED connection the bot has seen: what a submission needs."""
    linked = await s.companies.register(ADMIN, CHANNEL, "Acme Ltd", None)
    s.backend.authorize(linked.id)
    await s.watcher.look_at(linked.id)
    return linked.id


async def submitted(s: Services, key: str = "view-1", form: ExpenseInput | None = None) -> OutboxExpense:
    context = await s.expenses.start(CHANNEL, MEMBER)
    return await s.expenses.submit(context, MEMBER, key, form or lunch(), ())


async def stored(s: Services, expense_id: str) -> OutboxExpense:
    async with s.db.session() as session:
        return (await session.execute(select(OutboxExpense).where(OutboxExpense.id == expense_id))).scalar_one()


async def test_registering_a_company_creates_it_behind_the_port_and_links_the_channel(services: Services) -> None:
    linked = await services.companies.register(ADMIN, CHANNEL, "  Acme Ltd ", None)
    assert services.backend.companies[linked.id].name == "Acme Ltd"
    async with services.db.session() as session:
        company = await Companies(session).for_channel(CHANNEL)
    assert company is not None
    assert (company.id, company.name) == (linked.id, "Acme Ltd")


async def test_only_an_admin_registers_and_the_port_is_not_asked_otherwise(services: Services) -> None:
    with pytest.raises(Refusal, match="Only workspace admins"):
        await services.companies.register(MEMBER, CHANNEL, "Acme Ltd", None)
    assert services.backend.calls == []


async def test_a_refused_key_names_the_running_backends_variable(services: Services) -> None:
    services.backend.fail_next(KeyRefused("unknown key", status=401, code="unauthorized"))
    with pytest.raises(Refusal) as refused:
        await services.companies.register(ADMIN, CHANNEL, "Acme Ltd", None)
    assert str(refused.value) == "Fake Books refused the bot's API key. An admin should check FAKE_API_KEY."


async def test_a_connection_the_port_reports_is_recorded_once(services: Services) -> None:
    company_id = await connected_company(services)
    assert await services.watcher.look_at(company_id) == 0  # nothing new the second time
    async with services.db.session() as session:
        (record,) = await Connections(session).for_company(company_id)
    assert (record.platform_name, record.status, record.base_currency) == ("Xero", "CONNECTED", "USD")


async def test_a_submitted_expense_is_stored_first_then_sent_once(services: Services) -> None:
    company_id = await connected_company(services)
    record = await submitted(services)
    assert (record.state, services.backend.expenses) == ("waiting", {})
    assert (await submitted(services)).id == record.id  # the same submission again answers the same expense

    assert await services.outbox.send_waiting() == 1
    assert await services.outbox.send_waiting() == 0
    sent = services.backend.expenses[record.id]
    assert (sent.merchant_name, str(sent.lines[0].net_amount), sent.currency) == ("Corner Café", "12.50", "USD")
    after = await stored(services, record.id)
    assert (after.state, after.status, after.company_id) == ("accepted", "QUEUED", company_id)
    assert after.sync_batch_id == services.backend.batch_of[record.id]
    assert record.id in services.refreshed


async def test_an_outcome_is_found_by_a_look(services: Services) -> None:
    await connected_company(services)
    synced, refused = await submitted(services, "view-1"), await submitted(services, "view-2", lunch("99"))
    await services.outbox.send_waiting()
    batch_id = services.backend.batch_of[synced.id]
    services.backend.settle(batch_id, refused={refused.id: "Account acc-1 is archived"})

    await services.batches.watch_sync_batches()
    await services.batches.settle()
    done, failed = await stored(services, synced.id), await stored(services, refused.id)
    assert (done.status, done.accounting_id) == ("SYNCED", f"books-{synced.id[:8]}")
    assert failed.status == "FAILED"
    assert "Account acc-1 is archived" in (failed.error_message or "")


async def test_a_rejection_names_the_expense_it_blames_and_the_rest_goes_again(services: Services) -> None:
    await connected_company(services)
    good, bad = await submitted(services, "view-1"), await submitted(services, "view-2")
    # One request of both, oldest first: the service blames the second item, ``[1]``.
    blamed = Problem("[1].lines[0].netAmount", "must be greater than 0")
    services.backend.fail_next(Rejected("invalid", status=422, code="validation_error", details=[blamed]))
    await services.outbox.send_waiting()
    rejected = await stored(services, bad.id)
    assert (rejected.state, rejected.error_message) == (
        "rejected",
        "Fake Books refused it: lines[0].netAmount must be greater than 0",
    )
    assert (await stored(services, good.id)).state == "waiting"
    assert await services.outbox.send_waiting() == 1
    assert set(services.backend.expenses) == {good.id}
