"""Use-cases of the bot: one method per thing a person (or a scheduled job) asks for."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.access import AccessPolicy
from bot.services.companies import CompanyService
from bot.services.connections import ConnectionService
from bot.services.duplicates import DuplicateGuard
from bot.services.expenses import ExpenseService
from bot.services.home import HomeService
from bot.services.membership import Membership
from bot.services.receipts import ReceiptService
from bot.services.reference import ReferenceData


@dataclass(frozen=True)
class Services:
    """Everything the Slack handlers may call."""

    access: AccessPolicy
    companies: CompanyService
    connections: ConnectionService
    home: HomeService
    membership: Membership
    deliveries: DuplicateGuard
    expenses: ExpenseService
    receipts: ReceiptService
    reference: ReferenceData
