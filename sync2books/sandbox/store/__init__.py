"""The sandbox's state in SQLite: companies, links, connections, ledgers, expenses, batches, attachments.

One connection, WAL, and an asyncio lock around every transaction: the sandbox is one process, and the
lock keeps one coroutine's statements out of another's transaction. Every write that must survive a
crash is committed before the API answers, so a restarted sandbox loses nothing it acknowledged.

One module a section of the state, each a class over ``StoreBase``; ``SandboxStore`` is all of them at once.
"""

from __future__ import annotations

from sync2books.sandbox.store.auth_links import AuthLinkStore, LinkRefused, LinkTarget
from sync2books.sandbox.store.base import StoreError, format_ts, parse_ts, partner_of
from sync2books.sandbox.store.batch_processing import BatchProcessingStore, ExpenseJudge, ExpenseOutcome, QueuedBatch
from sync2books.sandbox.store.companies import CompanyRow
from sync2books.sandbox.store.expenses import AcceptOutcome, ExpenseStore
from sync2books.sandbox.store.webhooks import DueDelivery, SubscriptionRow

__all__ = [
    "AcceptOutcome",
    "CompanyRow",
    "DueDelivery",
    "ExpenseJudge",
    "ExpenseOutcome",
    "LinkRefused",
    "LinkTarget",
    "QueuedBatch",
    "SandboxStore",
    "StoreError",
    "SubscriptionRow",
    "format_ts",
    "parse_ts",
    "partner_of",
]


class SandboxStore(AuthLinkStore, ExpenseStore, BatchProcessingStore):
    """The whole state: its sections, and through them every other section they build on."""
