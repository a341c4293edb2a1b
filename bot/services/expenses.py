"""Expenses from Slack: what the modal needs, the submission, and the outbox that sends them exactly once.

An expense gets its id when it is submitted and is stored in the outbox, with the id, *before* anything
is sent; the modal closes after that. The outbox sends waiting expenses in groups of up to 50 per
connection (one sync batch each) and retries until Sync2Books has them. Because the id is the
idempotency key, a crash, a restart, an outage, a Slack retry or a second submission of the same view
ends in exactly one expense in Sync2Books.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from apiclient import wire
from bot.backend import (
    MAX_EXPENSES_PER_REQUEST,
    Conflict,
    ConnectionStatus,
    Expense,
    ExpenseStatus,
    ExpenseSyncBackend,
    ExpenseSyncError,
    NotFound,
    ReferenceKind,
    Rejected,
)
from bot.messages import ExpenseMessage, ExpenseSubmitted, dump
from bot.services.access import NO_ACCESS, AccessPolicy
from bot.services.companies import CompanyService
from bot.services.expense_form import ExpenseInput, FormErrors, build_expense
from bot.services.reference import ReferenceData
from bot.services.refusals import Refusal
from bot.services.work import ExpenseMessageRefresh, WorkToSend
from money import format_money
from storage.db import Database
from storage.repositories import Announcements, Companies, Connections, Expenses, Receipts, StoreConflict
from storage.states import OutboxState
from storage.tables import OutboxExpense, utcnow

log = logging.getLogger(__name__)

# Only saves work: an expense sent twice (a lease that ran out mid-request, two processes) is still one
# expense, because its id is the idempotency key. Short, so a crashed sender's expenses move on soon.
LEASE = timedelta(seconds=15)
CLAIM_AT_ONCE = 500
MAX_BACKOFF = timedelta(minutes=10)
# The most lines one modal holds (Slack's 100 blocks a modal leave room for this many).
MAX_LINES = 10


@dataclass(frozen=True)
class ConnectionChoice:
    id: str
    name: str
    base_currency: str


@dataclass(frozen=True)
class ExpenseContext:
    """What the modal is built from; carried in the modal's private metadata between its updates."""

    company_id: str
    company_name: str
    channel_id: str
    connections: tuple[ConnectionChoice, ...]
    connection_id: str | None
    expense_types: tuple[str, ...]
    bank_account: tuple[str, str] | None = None  # the company default: (id, name)
    contact_types: tuple[str, ...] = ("Supplier", "Customer")
    receipt_file_ids: tuple[str, ...] = ()
    lines: int = 1
    # Fix and retry: the failed expense this modal re-sends, under the same id.
    retry_of: str | None = None

    @property
    def connection(self) -> ConnectionChoice | None:
        return next((c for c in self.connections if c.id == self.connection_id), None)


@dataclass(frozen=True)
class BatchSummary:
    batch_id: str | None  # None: expenses still in the outbox
    expenses: int
    synced: int
    failed: int
    waiting: int
    updated_at: Any


def total_of(expense: Expense) -> Decimal:
    return sum((line.net_amount + line.tax_amount for line in expense.lines), Decimal(0))


def summary(record: OutboxExpense) -> ExpenseMessage:
    """What the expense message shows."""
    return ExpenseMessage(
        expense_id=record.id,
        user_id=record.submitted_by,
        merchant=record.merchant,
        total=format_money(Decimal(record.total), record.currency),
        state=record.state,
        status=record.status,
        error_message=record.error_message,
        accounting_id=record.accounting_id,
    )


class ExpenseService:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        companies: CompanyService,
        reference: ReferenceData,
        access: AccessPolicy,
        work: WorkToSend,
    ) -> None:
        self._db = db
        self._backend = backend
        self._access = access
        self._companies = companies
        self._reference = reference
        self._work = work

    @property
    def contact_types(self) -> tuple[str, ...]:
        """The kinds of contact the running service lets an expense name."""
        return self._backend.contact_types

    async def start(self, channel_id: str | None, user_id: str, receipt_file_ids: Sequence[str] = ()) -> ExpenseContext:
        """Everything the modal needs, from local data only (it must open within Slack's three seconds)."""
        company = await self._companies.resolve(channel_id, user_id)
        async with self._db.session() as session:
            records = await Connections(session).for_company(company.id)
            channels = await Companies(session).channels_of(company.id)
        connected = tuple(
            ConnectionChoice(r.id, r.platform_name, r.base_currency or "USD")
            for r in sorted(records, key=lambda r: r.platform_name)
            if r.status == ConnectionStatus.CONNECTED
        )
        if not connected:
            raise Refusal(
                "*{name}* has no connected accounting software yet, so expenses have nowhere to go. "
                "An admin can run `/sync2books connect` to post the link.",
                name=company.name,
            )
        target = channel_id if channel_id in channels else (channels[0] if channels else channel_id)
        assert target is not None
        for connection in connected:
            self._reference.refresh_soon(connection.id)
        config = await self._reference.company_config(company.id)
        chosen = connected[0].id if len(connected) == 1 else None
        bank = None
        if config.bank_account_ref is not None and chosen is not None:
            name = await self._reference.name_of(chosen, ReferenceKind.BANK_ACCOUNTS, config.bank_account_ref.id)
            bank = (config.bank_account_ref.id, name or config.bank_account_ref.id)
        return ExpenseContext(
            company_id=company.id,
            company_name=company.name,
            channel_id=target,
            connections=connected,
            connection_id=chosen,
            expense_types=self._backend.expense_types,
            contact_types=self._backend.contact_types,
            bank_account=bank,
            receipt_file_ids=tuple(receipt_file_ids),
        )

    async def trusted(self, claimed: ExpenseContext, user_id: str) -> ExpenseContext:
        """The modal's context as the bot's own records have it, for this user.

        The metadata a modal carries comes back from outside: it only says which company, connection and
        failed expense the person means. Company, channels, connections and currencies are read again
        here, and the person must be in one of the company's channels (or an admin); a Fix and retry
        must be their own expense (or they an admin).
        """
        async with self._db.session() as session:
            company = await Companies(session).get(claimed.company_id)
            channels = await Companies(session).channels_of(claimed.company_id) if company else []
            records = await Connections(session).for_company(claimed.company_id) if company else []
        if company is None or not channels:
            raise Refusal(NO_ACCESS)
        await self._access.require_member(user_id, channels)
        connections = tuple(
            ConnectionChoice(r.id, r.platform_name, r.base_currency or "USD")
            for r in sorted(records, key=lambda r: r.platform_name)
            if r.status == ConnectionStatus.CONNECTED
        )
        most = MAX_LINES
        if claimed.retry_of is not None:
            record = await self.get(claimed.retry_of)
            if record is None or record.company_id != company.id:
                raise Refusal("That expense is no longer known to the bot.")
            await self._require_own(record, user_id)
            most = max(most, len(Expense.model_validate(wire.loads(record.body)).lines))
            connection = next((r for r in records if r.id == record.connection_id), None)
            if connection is None:
                raise Refusal("The accounting software of that expense is no longer known to the bot.")
            connections = (
                ConnectionChoice(connection.id, connection.platform_name, connection.base_currency or "USD"),
            )
        connection_id = claimed.connection_id if any(c.id == claimed.connection_id for c in connections) else None
        if connection_id is None and len(connections) == 1:
            connection_id = connections[0].id
        return dataclasses.replace(
            claimed,
            company_name=company.name,
            channel_id=claimed.channel_id if claimed.channel_id in channels else channels[0],
            connections=connections,
            connection_id=connection_id,
            expense_types=self._backend.expense_types,
            contact_types=self._backend.contact_types,
            lines=min(max(claimed.lines, 1), most),
        )

    async def _require_own(self, record: OutboxExpense, user_id: str) -> None:
        if record.submitted_by != user_id and not await self._access.is_admin(user_id):
            raise Refusal("Only the person who submitted that expense (or an admin) can change it.")

    async def may_use_connection(self, user_id: str, connection_id: str) -> bool:
        """Whether the person may see that connection's reference data (a member of its company's channel)."""
        async with self._db.session() as session:
            connection = await Connections(session).get(connection_id)
            channels = await Companies(session).channels_of(connection.company_id) if connection else []
        return bool(channels) and await self._access.may_act_in(user_id, channels)

    async def submit(
        self,
        context: ExpenseContext,
        user_id: str,
        submission_key: str,
        form: ExpenseInput,
        receipt_file_ids: Sequence[str],
    ) -> OutboxExpense:
        """Validate (FormErrors names each bad field), then store before anything is sent.

        The same submission delivered again answers the expense it already made.
        """
        context = await self.trusted(context, user_id)
        connection = context.connection
        if connection is None:
            raise Refusal("Choose which accounting software this expense goes to.")
        expense = build_expense(
            form,
            expense_id=str(uuid.uuid4()),
            base_currency=connection.base_currency,
            allowed_types=frozenset(context.expense_types),
            contact_types=frozenset(self._backend.contact_types),
        )
        now = utcnow()
        record = OutboxExpense(
            id=expense.id,
            company_id=context.company_id,
            connection_id=connection.id,
            channel_id=context.channel_id,
            submitted_by=user_id,
            submission_key=submission_key,
            body=wire.dumps(expense, exclude_none=True).decode(),
            currency=expense.currency,
            total=str(total_of(expense)),
            merchant=expense.merchant_name,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        existing = await self._by_submission(submission_key)
        if existing is not None:
            return existing
        try:
            async with self._db.session() as session:
                await Expenses(session).add(record)
                Receipts(session).add_to_new(record, dict.fromkeys(receipt_file_ids), user_id)
                submitted = ExpenseSubmitted(expense_id=record.id)
                await Announcements(session).owe(
                    f"expense:{record.id}", record.channel_id, submitted.KIND, dump(submitted)
                )
        except StoreConflict:
            # The same submission, delivered twice at once, lost the race to its twin: answer the twin's.
            twin = await self._by_submission(submission_key)
            if twin is None:
                raise
            return twin
        self._work.expenses_waiting()
        return record

    async def _by_submission(self, submission_key: str) -> OutboxExpense | None:
        async with self._db.session() as session:
            return await Expenses(session).by_submission(submission_key)

    async def start_fix(self, expense_id: str, user_id: str) -> tuple[ExpenseContext, dict[str, Any]]:
        """The modal for a failed expense, and its values to put back in (names from the local copy)."""
        record = await self.get(expense_id)
        if record is None:
            raise Refusal("That expense is no longer known to the bot.")
        await self._require_own(record, user_id)
        if record.status == ExpenseStatus.SYNCED.value:
            raise Refusal("That expense is already in the books; there is nothing to fix.")
        async with self._db.session() as session:
            connection = await Connections(session).get(record.connection_id)
            company = await Companies(session).get(record.company_id)
        if connection is None or company is None:
            raise Refusal("The accounting software of that expense is no longer known to the bot.")
        expense = Expense.model_validate(wire.loads(record.body))
        context = ExpenseContext(
            company_id=company.id,
            company_name=company.name,
            channel_id=record.channel_id,
            connections=(ConnectionChoice(connection.id, connection.platform_name, connection.base_currency or "USD"),),
            connection_id=connection.id,
            expense_types=self._backend.expense_types,
            contact_types=self._backend.contact_types,
            lines=len(expense.lines),
            retry_of=record.id,
        )
        return context, await self._prefill(connection.id, expense)

    async def _prefill(self, connection_id: str, expense: Expense) -> dict[str, Any]:
        async def named(kind: ReferenceKind, item_id: str | None) -> tuple[str, str] | None:
            if not item_id:
                return None
            return item_id, await self._reference.name_of(connection_id, kind, item_id) or item_id

        contact = None
        if expense.contact_ref is not None:
            kind = ReferenceKind.SUPPLIERS if expense.contact_ref.type.value == "Supplier" else ReferenceKind.CUSTOMERS
            found = await named(kind, expense.contact_ref.id)
            contact = (f"{expense.contact_ref.type.value}:{expense.contact_ref.id}", found[1]) if found else None
        lines = []
        for line in expense.lines:
            tracking = [await named(ReferenceKind.TRACKING_CATEGORIES, t.id) for t in line.tracking_refs or []]
            lines.append(
                {
                    "account": await named(ReferenceKind.ACCOUNTS, line.account_ref.id),
                    "tax_rate": await named(ReferenceKind.TAX_RATES, line.tax_rate_ref.id),
                    "net": f"{line.net_amount:,}",
                    "tax": f"{line.tax_amount:,}",
                    "tracking": [t for t in tracking if t],
                    "invoice_to": await named(ReferenceKind.CUSTOMERS, line.invoice_to.id if line.invoice_to else None),
                }
            )
        return {
            "type": expense.type.value,
            "issue_date": expense.issue_date.isoformat(),
            "currency": expense.currency,
            "currency_rate": str(expense.currency_rate) if expense.currency_rate is not None else None,
            "merchant": expense.merchant_name,
            "contact": contact,
            "bank_account": await named(
                ReferenceKind.BANK_ACCOUNTS, expense.bank_account_ref.id if expense.bank_account_ref else None
            ),
            "notes": expense.notes,
            "draft": expense.post_as_draft,
            "lines": lines,
        }

    async def resubmit(self, claimed: ExpenseContext, user_id: str, form: ExpenseInput) -> OutboxExpense:
        """Fix and retry: the corrected expense goes out again under its old id (a failed id is taken back)."""
        context = await self.trusted(claimed, user_id)
        assert context.retry_of is not None and context.connection is not None
        expense = build_expense(
            form,
            expense_id=context.retry_of,
            base_currency=context.connection.base_currency,
            allowed_types=frozenset(context.expense_types),
            contact_types=frozenset(self._backend.contact_types),
        )
        async with self._db.session() as session:
            expenses = Expenses(session)
            record = await expenses.get(expense.id)
            if record is None:
                raise Refusal("That expense is no longer known to the bot.")
            if record.status == ExpenseStatus.SYNCED.value:
                return record  # a second click on an old button: it is already in the books
            if record.status != ExpenseStatus.FAILED.value and record.state != OutboxState.REJECTED:
                return record  # already on its way again (the same fix submitted twice)
            expense = _with_lines_not_shown(expense, Expense.model_validate(wire.loads(record.body)), context.lines)
            expenses.send_again(
                record,
                body=wire.dumps(expense, exclude_none=True).decode(),
                currency=expense.currency,
                total=str(total_of(expense)),
                merchant=expense.merchant_name,
            )
        self._work.expenses_waiting()
        return record

    async def recent_batches(self, channel_id: str, user_id: str, limit: int = 10) -> tuple[str, list[BatchSummary]]:
        """The company's latest sync batches as the bot last saw them: (company name, newest first)."""
        company = await self._companies.resolve(channel_id, user_id)
        async with self._db.session() as session:
            records = await Expenses(session).recent_of_company(company.id, limit=200)
        batches: dict[str, list[OutboxExpense]] = {}
        for record in records:
            batches.setdefault(record.sync_batch_id or f"outbox:{record.state}", []).append(record)
        found = [
            BatchSummary(
                batch_id=batch_id if not batch_id.startswith("outbox:") else None,
                expenses=len(members),
                synced=sum(m.status == ExpenseStatus.SYNCED.value for m in members),
                failed=sum(m.status == ExpenseStatus.FAILED.value or m.state == OutboxState.REJECTED for m in members),
                waiting=sum(m.state in (OutboxState.WAITING, OutboxState.SENDING) for m in members),
                updated_at=max(m.updated_at for m in members),
            )
            for batch_id, members in batches.items()
        ]
        found.sort(key=lambda b: b.updated_at, reverse=True)
        return company.name, found[:limit]

    async def recent_for(self, user_id: str, limit: int = 10) -> list[OutboxExpense]:
        async with self._db.session() as session:
            return await Expenses(session).recent_by(user_id, limit)

    async def get(self, expense_id: str) -> OutboxExpense | None:
        async with self._db.session() as session:
            return await Expenses(session).get(expense_id)


class ExpenseOutbox:
    """Sends waiting expenses; records what Sync2Books said; keeps each expense's message current."""

    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        messages: ExpenseMessageRefresh,
        work: WorkToSend,
    ) -> None:
        self._db = db
        self._backend = backend
        self._messages = messages
        self._work = work

    async def _claim(self) -> list[OutboxExpense]:
        async with self._db.session() as session:
            return await Expenses(session).claim_due(limit=CLAIM_AT_ONCE, lease=LEASE)

    async def send_waiting(self) -> int:
        """One pass: every due expense, grouped by connection, 50 to a request; answers how many were accepted."""
        claimed = await self._claim()
        accepted = 0
        by_connection: dict[str, list[OutboxExpense]] = {}
        for record in claimed:
            by_connection.setdefault(record.connection_id, []).append(record)
        for connection_id, records in by_connection.items():
            for start in range(0, len(records), MAX_EXPENSES_PER_REQUEST):
                accepted += await self._send(connection_id, records[start : start + MAX_EXPENSES_PER_REQUEST])
        if accepted:
            self._work.receipts_waiting()
        return accepted

    async def _send(self, connection_id: str, records: list[OutboxExpense]) -> int:
        expenses = [Expense.model_validate(wire.loads(record.body)) for record in records]
        try:
            answer = await self._backend.create_expenses(records[0].company_id, connection_id, expenses)
        except Rejected as exc:
            bad = _items_named(exc, len(records))
            if not bad or len(bad) == len(records):
                await self._reject(records, _plain_refusal(exc, self._backend.name))
                return 0
            await self._reject([records[i] for i in sorted(bad)], _plain_refusal(exc, self._backend.name))
            await self._retry_soon([r for i, r in enumerate(records) if i not in bad], immediately=True)
            return 0
        except (Conflict, NotFound) as exc:
            # Not worth repeating: a changed body under a used id, a refused or vanished connection.
            await self._reject(records, _plain_refusal(exc, self._backend.name))
            return 0
        except ExpenseSyncError as exc:
            log.warning("could not send %d expense(s) to %s (%s); will retry", len(records), connection_id, exc)
            await self._retry_soon(records)
            return 0
        by_id = {item.id: item for item in answer.expenses}
        async with self._db.session() as session:
            for record in records:
                item = by_id.get(record.id)
                if item is None:
                    continue
                await Expenses(session).mark_accepted(record.id, item.status.value, item.sync_batch_id)
        await self._refresh_all([r.id for r in records])
        return len(by_id)

    async def _reject(self, records: Sequence[OutboxExpense], reason: str) -> None:
        async with self._db.session() as session:
            for record in records:
                await Expenses(session).reject(record.id, reason)
        await self._refresh_all([r.id for r in records])

    async def _retry_soon(self, records: Sequence[OutboxExpense], *, immediately: bool = False) -> None:
        async with self._db.session() as session:
            for record in records:
                pause = (
                    timedelta(0) if immediately else min(MAX_BACKOFF, timedelta(seconds=2 ** min(record.attempts, 10)))
                )
                await Expenses(session).retry_at(record.id, utcnow() + pause)

    async def _refresh_all(self, expense_ids: Sequence[str]) -> None:
        async with self._db.session() as session:
            records = await Expenses(session).get_many(expense_ids)
        for record in records:
            await self._messages.refresh(record)


_ITEM = re.compile(r"^\[(\d+)\]")


def _items_named(exc: Rejected, count: int) -> set[int]:
    """Which items of an array request a 422 blames, from its details' field paths ("[3].lines[0]…")."""
    found = set()
    for detail in exc.details:
        match = _ITEM.match(detail.field)
        if match and int(match.group(1)) < count:
            found.add(int(match.group(1)))
    return found


def _plain_refusal(exc: ExpenseSyncError, service: str) -> str:
    if exc.code == "connection_not_connected":
        return "The accounting software is no longer connected; reconnect it, then submit the expense again."
    if exc.details:
        # "[3].lines[0].netAmount" names a field of the fourth item sent; the person knows only their one expense.
        said = [f"{_ITEM.sub('', d.field).lstrip('.')} {d.message}".strip() for d in exc.details[:5]]
        return f"{service} refused it: " + "; ".join(said)
    return f"{service} refused it: {exc.message}"


def _with_lines_not_shown(fixed: Expense, original: Expense, shown: int) -> Expense:
    """A Fix and retry modal shows at most the lines a Slack form holds; the original's lines past those were not
    in the form, so they go again as they were. They are amounts in the original's currency: that must stay."""
    kept = original.lines[shown:]
    if not kept:
        return fixed
    if fixed.currency != original.currency:
        raise FormErrors(
            {
                "currency": f"Lines {shown + 1}–{len(original.lines)}, not shown here, are in {original.currency}: "
                f"keep {original.currency}."
            }
        )
    return fixed.model_copy(update={"lines": [*fixed.lines, *kept]})
