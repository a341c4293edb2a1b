"""Receipts: files from the modal, shared in a channel or a direct message, or posted in an expense's thread.

Each file is checked (type and size, from ``files.info``) before it is downloaded, downloaded with the bot
token, and uploaded to the expense once Sync2Books has the expense. Uploads that fail are retried by the
scheduled jobs; the person is told only when a file finally cannot be attached.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from apiclient import wire
from bot.backend import ExpenseSyncBackend, ExpenseSyncError, FileRefused, ReceiptRules, Rejected
from bot.messages import ReceiptFailed, ReceiptOffer, ReceiptRefused, dump
from bot.ports import Files, FileUnavailable, SlackFile
from bot.services.access import AccessPolicy
from bot.services.companies import is_direct_message
from bot.services.expenses import ExpenseContext
from bot.services.readings import ReceiptDraft, ReceiptReader
from bot.services.refusals import Refusal
from bot.services.work import WorkToSend
from storage.db import Database
from storage.repositories import Announcements, Companies, Connections, Expenses, Receipts
from storage.tables import OutboxExpense, ReceiptRecord, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def receipt_problem(rules: ReceiptRules | None, file: SlackFile, expense_type: str | None = None) -> str | None:
    """Why a file cannot be a receipt there, in words for the person who shared it; None when it can."""
    if rules is None:
        return None  # no connection to judge by yet: the upload will be judged when there is one
    return rules.problem(file.name, file.mimetype, file.size, expense_type)


def _base(context: ExpenseContext) -> str:
    connection = context.connection or (context.connections[0] if context.connections else None)
    return connection.base_currency if connection else "USD"


def _expense_type(expense: OutboxExpense) -> str | None:
    body = wire.loads(expense.body)
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


class ReceiptService:
    def __init__(
        self,
        db: Database,
        backend: ExpenseSyncBackend,
        files: Files,
        access: AccessPolicy,
        work: WorkToSend,
        reader: ReceiptReader,
    ) -> None:
        self._db = db
        self._reader = reader
        self._access = access
        self._backend = backend
        self._files = files
        self._work = work

    async def on_files_posted(
        self, channel_id: str, user_id: str, ts: str, thread_ts: str | None, file_ids: Sequence[str]
    ) -> None:
        """A message with files: in an expense's thread they join that expense; elsewhere the bot offers help."""
        async with self._db.session() as session:
            linked = await Companies(session).for_channel(channel_id)
            expense = None
            if thread_ts:
                expense = await Expenses(session).with_message(channel_id, thread_ts)
        if linked is None and not is_direct_message(channel_id):
            return
        base_currency = None
        if expense is not None:
            rules, expense_type = await self._rules_for(expense.connection_id), _expense_type(expense)
        else:
            rules, expense_type = await self._rules_for_company(linked.id if linked else None), None
            base_currency = await self._base_currency_of(linked.id if linked else None)
        for file_id in file_ids:
            try:
                file = await self._files.info(file_id)
            except FileUnavailable as exc:
                log.warning("could not look at file %s (%s)", file_id, exc.reason)
                continue
            problem = receipt_problem(rules, file, expense_type)
            reply_to = thread_ts or ts
            async with self._db.session() as session:
                if problem is not None:
                    refused = ReceiptRefused(text=problem, thread_ts=reply_to)
                    await Announcements(session).owe(
                        f"{refused.KIND}:{file_id}", channel_id, refused.KIND, dump(refused)
                    )
                elif expense is not None:
                    await Receipts(session).attach_once(expense, file_id, user_id)
                else:
                    offer = ReceiptOffer(file_id=file_id, file_name=file.name, thread_ts=reply_to)
                    await Announcements(session).owe(f"{offer.KIND}:{file_id}", channel_id, offer.KIND, dump(offer))
            if problem is None and expense is None:
                # Read at once, so that a click on the offer usually finds the fields ready.
                self._reader.begin(file, base_currency, linked.id if linked else None, (channel_id, reply_to))
        self._work.announcements_owed()
        self._work.receipts_waiting()

    async def _rules_for(self, connection_id: str) -> ReceiptRules | None:
        """The receipt rules of the software behind a connection (the service decides them)."""
        async with self._db.session() as session:
            connection = await Connections(session).get(connection_id)
        return self._backend.receipt_rules(connection.integration_key) if connection else None

    async def _rules_for_company(self, company_id: str | None) -> ReceiptRules | None:
        """For a file not yet tied to an expense: the rules of the company's one connected software, if one."""
        if company_id is None:
            return None
        async with self._db.session() as session:
            connected = await Connections(session).connected_of(company_id)
        return self._backend.receipt_rules(connected[0].integration_key) if len(connected) == 1 else None

    async def _base_currency_of(self, company_id: str | None) -> str | None:
        if company_id is None:
            return None
        async with self._db.session() as session:
            connected = await Connections(session).connected_of(company_id)
        return connected[0].base_currency if len(connected) == 1 else None

    async def draft_now(self, file_id: str, context: ExpenseContext) -> ReceiptDraft:
        """What the modal opened from a shared file shows at once, from local data only: the stored reading, or
        "being read" (the caller then waits for ``draft_when_read``)."""
        async with self._db.session() as session:
            offer = await Announcements(session).get(f"receipt_offer:{file_id}")
        name = offer.payload.get("file_name") if offer is not None and isinstance(offer.payload, dict) else None
        stored = await self._reader.stored(file_id)
        return await self._reader.draft(stored, str(name or "the receipt"), context.company_id, _base(context))

    async def draft_when_read(self, file_id: str, context: ExpenseContext, file_name: str) -> ReceiptDraft:
        """The same, once the file is read (waiting for a reading under way); unreadable if it cannot be had."""
        found = await self._reader.finished(file_id, _base(context))
        if found is None:  # Slack would not hand the file over, or reading it did not end in time
            return ReceiptDraft(file_name=file_name, state="unreadable", problem="it could not be read just now")
        return await self._reader.draft(found, file_name, context.company_id, _base(context))

    async def attach(self, expense_id: str, file_id: str, user_id: str) -> OutboxExpense:
        """Attach a Slack file to one of the person's own expenses (an admin: to any); twice changes nothing."""
        async with self._db.session() as session:
            expense = await Expenses(session).get(expense_id)
        if expense is None:
            raise Refusal("That expense is no longer known to the bot.")
        if expense.submitted_by != user_id and not await self._access.is_admin(user_id):
            raise Refusal("You can attach receipts only to your own expenses.")
        async with self._db.session() as session:
            await Receipts(session).attach_once(expense, file_id, user_id)
        self._work.receipts_waiting()
        return expense

    async def upload_waiting(self) -> int:
        """One pass of the scheduled job: upload every due receipt whose expense Sync2Books already has."""
        async with self._db.session() as session:
            # Where receipts go on the booked transaction, they wait until it is booked.
            due = await Receipts(session).due_for_upload(after_sync=self._backend.receipts_after_sync, limit=50)
        uploaded = 0
        for receipt, expense in due:
            uploaded += await self._upload(receipt, expense)
        return uploaded

    async def _upload(self, receipt: ReceiptRecord, expense: OutboxExpense) -> int:
        try:
            file = await self._files.info(receipt.slack_file_id)
            problem = receipt_problem(await self._rules_for(expense.connection_id), file, _expense_type(expense))
            if problem is not None:
                await self._give_up(receipt, expense, problem)
                return 0
            content = await self._files.download(file)
            attachment = await self._backend.upload_attachment(
                expense.company_id,
                expense.connection_id,
                expense.sync_batch_id or "",
                expense.id,
                file.name,
                content,
                file.mimetype,
            )
        except FileUnavailable as exc:
            return await self._failed(receipt, expense, exc.reason, permanent=exc.permanent)
        except (FileRefused, Rejected) as exc:
            return await self._failed(receipt, expense, exc.message, permanent=True)
        except ExpenseSyncError as exc:
            return await self._failed(receipt, expense, str(exc), permanent=False)
        async with self._db.session() as session:
            await Receipts(session).uploaded(
                receipt.id, attachment_id=attachment.id, sha256=attachment.sha256, file_name=file.name
            )
        return 1

    async def _failed(self, receipt: ReceiptRecord, expense: OutboxExpense, reason: str, *, permanent: bool) -> int:
        attempts = receipt.attempts + 1
        if permanent or attempts >= MAX_ATTEMPTS:
            await self._give_up(receipt, expense, f"I could not attach a receipt to this expense: {reason}.")
            return 0
        log.warning("receipt %s not uploaded yet (%s); retry %d", receipt.slack_file_id, reason, attempts)
        async with self._db.session() as session:
            await Receipts(session).retry_at(
                receipt.id, utcnow() + timedelta(seconds=2**attempts), attempts=attempts, reason=reason[:1000]
            )
        return 0

    async def _give_up(self, receipt: ReceiptRecord, expense: OutboxExpense, sentence: str) -> None:
        async with self._db.session() as session:
            await Receipts(session).give_up(receipt.id, sentence[:1000])
            failed = ReceiptFailed(text=sentence, thread_ts=expense.message_ts, user_id=receipt.user_id)
            await Announcements(session).owe(
                f"{failed.KIND}:{receipt.id}", expense.channel_id, failed.KIND, dump(failed)
            )
        self._work.announcements_owed()
