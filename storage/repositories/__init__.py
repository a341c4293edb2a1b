"""Queries over the bot's tables, one small class per aggregate, all inside the caller's unit of work.

A service opens ``Database.session()`` and builds the repositories it needs on that session, so that
a state change and the announcement it owes are committed together or not at all. Services never build
SQL themselves: every query is here.
"""

from __future__ import annotations

from storage.repositories._sql import Backlog, is_postgres
from storage.repositories.announcements import Announcements, ClaimLost
from storage.repositories.companies import AuthLinks, Companies, Connections
from storage.repositories.expenses import FINISHED, BatchMove, Expenses, StoreConflict
from storage.repositories.readings import ReceiptReadings
from storage.repositories.receipts import Receipts
from storage.repositories.reference import ReferenceCache
from storage.repositories.watching import Leases, SeenDeliveries, WatchCursors
from storage.repositories.webhooks import WebhookSubscriptions

__all__ = [
    "FINISHED",
    "Announcements",
    "AuthLinks",
    "Backlog",
    "BatchMove",
    "ClaimLost",
    "Companies",
    "Connections",
    "Expenses",
    "Leases",
    "ReceiptReadings",
    "Receipts",
    "ReferenceCache",
    "SeenDeliveries",
    "StoreConflict",
    "WatchCursors",
    "WebhookSubscriptions",
    "is_postgres",
]
