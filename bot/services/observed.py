"""A connection as the bot remembers it, from what the expense-sync service said of it."""

from __future__ import annotations

from bot.backend import ServiceConnection
from storage.tables import ConnectionRecord, utcnow


def connection_record(connection: ServiceConnection) -> ConnectionRecord:
    return ConnectionRecord(
        id=connection.id,
        company_id=connection.company_id,
        integration_key=connection.integration_key,
        platform_name=connection.platform_name,
        status=connection.status.value,
        error_message=connection.error.message if connection.error else None,
        observed_at=utcnow(),
        base_currency=connection.base_currency,
    )
