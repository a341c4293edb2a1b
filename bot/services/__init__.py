"""Use-cases of the bot: one method per thing a person (or a scheduled job) asks for."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.access import AccessPolicy
from bot.services.companies import CompanyService
from bot.services.connections import ConnectionService
from bot.services.deliveries import DeliveryLog
from bot.services.home import HomeService


@dataclass(frozen=True)
class Services:
    """Everything the Slack handlers may call."""

    access: AccessPolicy
    companies: CompanyService
    connections: ConnectionService
    home: HomeService
    deliveries: DeliveryLog
