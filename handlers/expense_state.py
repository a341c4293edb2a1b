"""Reading the expense modal's state (what Slack sends on submit) into the form the service checks."""

from __future__ import annotations

import json
from typing import Any

from bot.services.expense_form import ExpenseInput, LineInput
from bot.services.expenses import ConnectionChoice, ExpenseContext
from handlers.blocks import CHOOSE_CONNECTION, CHOOSE_CURRENCY, OPTION_ACTIONS


def _element(values: dict[str, Any], block_id: str, action_id: str = "value") -> dict[str, Any]:
    return dict(values.get(block_id, {}).get(action_id) or {})


def _text(values: dict[str, Any], block_id: str) -> str:
    return str(_element(values, block_id).get("value") or "")


def _selected(values: dict[str, Any], block_id: str, action_id: str = "value") -> str | None:
    chosen = _element(values, block_id, action_id).get("selected_option")
    return str(chosen["value"]) if chosen else None


def chosen_connection(values: dict[str, Any]) -> str | None:
    return _selected(values, "connection", CHOOSE_CONNECTION)


def chosen_currency(values: dict[str, Any]) -> str | None:
    return _selected(values, "currency", CHOOSE_CURRENCY)


def form_from_state(values: dict[str, Any], lines: int) -> ExpenseInput:
    return ExpenseInput(
        expense_type=_selected(values, "type"),
        issue_date=_element(values, "issue_date").get("selected_date"),
        currency=chosen_currency(values),
        currency_rate=_text(values, "currency_rate") or None,
        merchant=_text(values, "merchant"),
        contact=_selected(values, "contact", OPTION_ACTIONS["contact"]),
        bank_account_id=_selected(values, "bank_account", OPTION_ACTIONS["bank_account"]),
        lines=tuple(_line(values, index) for index in range(lines)),
        notes=_text(values, "notes"),
        post_as_draft=bool(_element(values, "post_as_draft").get("selected_options")),
    )


def _line(values: dict[str, Any], index: int) -> LineInput:
    prefix = f"line{index}_"
    tracking = _element(values, prefix + "tracking", OPTION_ACTIONS["tracking"]).get("selected_options") or []
    return LineInput(
        account_id=_selected(values, prefix + "account", OPTION_ACTIONS["account"]),
        tax_rate_id=_selected(values, prefix + "tax_rate", OPTION_ACTIONS["tax_rate"]),
        net_amount=_text(values, prefix + "net"),
        tax_amount=_text(values, prefix + "tax"),
        tracking_ids=tuple(str(option["value"]) for option in tracking),
        invoice_to_id=_selected(values, prefix + "invoice_to", OPTION_ACTIONS["invoice_to"]),
    )


def uploaded_files(values: dict[str, Any]) -> list[str]:
    return [str(file["id"]) for file in _element(values, "receipts").get("files") or []]


def context_to_metadata(context: ExpenseContext) -> dict[str, Any]:
    return {
        "company_id": context.company_id,
        "company_name": context.company_name,
        "channel_id": context.channel_id,
        "connections": [{"id": c.id, "name": c.name, "base_currency": c.base_currency} for c in context.connections],
        "connection_id": context.connection_id,
        "expense_types": list(context.expense_types),
        "contact_types": list(context.contact_types),
        "bank_account": list(context.bank_account) if context.bank_account else None,
        "receipt_file_ids": list(context.receipt_file_ids),
        "lines": context.lines,
        "retry_of": context.retry_of,
    }


def context_from_metadata(metadata: str) -> ExpenseContext:
    data = json.loads(metadata)
    return ExpenseContext(
        company_id=data["company_id"],
        company_name=data["company_name"],
        channel_id=data["channel_id"],
        connections=tuple(ConnectionChoice(c["id"], c["name"], c["base_currency"]) for c in data["connections"]),
        connection_id=data.get("connection_id"),
        expense_types=tuple(data["expense_types"]),
        contact_types=tuple(data.get("contact_types") or ("Supplier", "Customer")),
        bank_account=(data["bank_account"][0], data["bank_account"][1]) if data.get("bank_account") else None,
        receipt_file_ids=tuple(data.get("receipt_file_ids") or ()),
        lines=int(data.get("lines", 1)),
        retry_of=data.get("retry_of"),
    )
