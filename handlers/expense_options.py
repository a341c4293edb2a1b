"""The options the expense modal's menus ask for as the person types: the connection's reference data."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.backend import ContactType, ReferenceKind
from bot.services import Services
from handlers.context import services_of
from handlers.replies import guarded
from slack_ui import ids
from slack_ui.kit import option, plain

# The menus other than the contact's, by action id: each lists one kind of reference data.
KINDS = {
    ids.OPTION_ACTIONS[ids.BANK_ACCOUNT]: ReferenceKind.BANK_ACCOUNTS,
    ids.OPTION_ACTIONS[ids.ACCOUNT]: ReferenceKind.ACCOUNTS,
    ids.OPTION_ACTIONS[ids.TAX_RATE]: ReferenceKind.TAX_RATES,
    ids.OPTION_ACTIONS[ids.TRACKING]: ReferenceKind.TRACKING_CATEGORIES,
    ids.OPTION_ACTIONS[ids.INVOICE_TO]: ReferenceKind.CUSTOMERS,
}
CONTACT_GROUPS = (
    ("Suppliers", ReferenceKind.SUPPLIERS, ContactType.SUPPLIER),
    ("Customers", ReferenceKind.CUSTOMERS, ContactType.CUSTOMER),
)


def register(app: AsyncApp) -> None:
    app.options({"action_id": ids.OPTION_ACTIONS[ids.CONTACT]})(contact_options)
    for action_id in KINDS:
        app.options({"action_id": action_id})(reference_options)


@guarded
async def contact_options(ack: AsyncAck, body: dict[str, Any], context: dict[str, Any]) -> None:
    services = services_of(context)
    connection_id = await _connection_of(services, body)
    query = str(body.get("value") or "")
    groups = []
    for label, kind, contact_type in CONTACT_GROUPS:
        if contact_type.value not in services.expenses.contact_types:
            continue  # Codat names only suppliers as an expense's contact
        found = await services.reference.options(connection_id, kind, query) if connection_id else []
        if found:
            options = [option(item.name, f"{contact_type.value}:{item.id}") for item in found[:50]]  # type: ignore[attr-defined]
            groups.append({"label": plain(label), "options": options})
    await ack(option_groups=groups) if groups else await ack(options=[])


@guarded
async def reference_options(ack: AsyncAck, body: dict[str, Any], context: dict[str, Any]) -> None:
    services = services_of(context)
    kind = KINDS[str(body.get("action_id"))]
    connection_id = await _connection_of(services, body)
    found = await services.reference.options(connection_id, kind, str(body.get("value") or "")) if connection_id else []
    await ack(options=[option(_label(item), str(item.id)) for item in found])  # type: ignore[attr-defined]


def _label(item: Any) -> str:
    code = getattr(item, "nominal_code", None) or getattr(item, "code", None)
    return f"{code} · {item.name}" if code else str(item.name)


async def _connection_of(services: Services, body: dict[str, Any]) -> str | None:
    """The connection whose reference data the modal asks for, if this person may see it."""
    view = body.get("view")
    metadata = view.get("private_metadata") if isinstance(view, dict) else None
    try:
        connection_id = json.loads(metadata or "{}").get("connection_id")
    except (ValueError, AttributeError):
        return None
    if not isinstance(connection_id, str):
        return None
    return connection_id if await services.expenses.may_use_connection(body["user"]["id"], connection_id) else None
