"""Reading the expense modal's state (what Slack sends on submit) into the form the service checks.

Everything here is input: a value of the wrong type reads as empty (the form then says what is missing,
next to the field), and metadata that does not parse is ``Unreadable``. Nothing here raises anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.services.expense_form import ExpenseInput, LineInput
from bot.services.expenses import ConnectionChoice, ExpenseContext
from bot.services.refusals import Unreadable
from slack_ui import ids
from slack_ui.ids import OPTION_ACTIONS, line_field

# Longer than any field of the modal allows (notes: 2,000), so only a crafted payload is cut.
MAX_TEXT = 3000
MAX_CHOSEN = 10
MAX_FILES = 10


def view_values(view: Any) -> dict[str, Any]:
    """What was typed into a view, by block id; empty when the view carries nothing readable."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def _element(values: dict[str, Any], block_id: str, action_id: str = ids.VALUE) -> dict[str, Any]:
    block = values.get(block_id)
    element = block.get(action_id) if isinstance(block, dict) else None
    return element if isinstance(element, dict) else {}


def text_value(values: dict[str, Any], block_id: str) -> str:
    value = _element(values, block_id).get("value")
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def _option_value(option: Any) -> str | None:
    value = option.get("value") if isinstance(option, dict) else None
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def selected(values: dict[str, Any], block_id: str, action_id: str = ids.VALUE) -> str | None:
    return _option_value(_element(values, block_id, action_id).get("selected_option"))


def _selected_many(values: dict[str, Any], block_id: str, action_id: str) -> tuple[str, ...]:
    chosen = _element(values, block_id, action_id).get("selected_options")
    if not isinstance(chosen, list):
        return ()
    return tuple(value for value in map(_option_value, chosen[:MAX_CHOSEN]) if value)


def chosen_connection(values: dict[str, Any]) -> str | None:
    return selected(values, ids.CONNECTION, ids.CHOOSE_CONNECTION)


def chosen_currency(values: dict[str, Any]) -> str | None:
    return selected(values, ids.CURRENCY, ids.CHOOSE_CURRENCY)


def form_from_state(values: dict[str, Any], lines: int) -> ExpenseInput:
    return ExpenseInput(
        expense_type=selected(values, ids.TYPE),
        issue_date=_date(values),
        currency=chosen_currency(values),
        currency_rate=text_value(values, ids.CURRENCY_RATE) or None,
        merchant=text_value(values, ids.MERCHANT),
        contact=selected(values, ids.CONTACT, OPTION_ACTIONS[ids.CONTACT]),
        bank_account_id=selected(values, ids.BANK_ACCOUNT, OPTION_ACTIONS[ids.BANK_ACCOUNT]),
        lines=tuple(_line(values, index) for index in range(lines)),
        notes=text_value(values, ids.NOTES),
        post_as_draft=bool(_selected_many(values, ids.POST_AS_DRAFT, ids.VALUE)),
    )


def _date(values: dict[str, Any]) -> str | None:
    chosen = _element(values, ids.ISSUE_DATE).get("selected_date")
    return chosen[:20] if isinstance(chosen, str) else None


def _line(values: dict[str, Any], index: int) -> LineInput:
    def field(name: str) -> str:
        return line_field(index, name)

    return LineInput(
        account_id=selected(values, field(ids.ACCOUNT), OPTION_ACTIONS[ids.ACCOUNT]),
        tax_rate_id=selected(values, field(ids.TAX_RATE), OPTION_ACTIONS[ids.TAX_RATE]),
        net_amount=text_value(values, field(ids.NET)),
        tax_amount=text_value(values, field(ids.TAX)),
        tracking_ids=_selected_many(values, field(ids.TRACKING), OPTION_ACTIONS[ids.TRACKING]),
        invoice_to_id=selected(values, field(ids.INVOICE_TO), OPTION_ACTIONS[ids.INVOICE_TO]),
    )


def uploaded_files(values: dict[str, Any]) -> list[str]:
    files = _element(values, ids.RECEIPTS).get("files")
    if not isinstance(files, list):
        return []
    return [file["id"] for file in files[:MAX_FILES] if isinstance(file, dict) and _is_id(file.get("id"))]


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and value.isalnum()


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


class _Connection(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(max_length=64)
    name: str = Field(max_length=200)
    base_currency: str = Field(max_length=3)


class _Metadata(BaseModel):
    """The context as the modal carried it. Only its ids matter (the service reads the rest again);
    its sizes are bounded so that no crafted count costs more than a real modal."""

    model_config = ConfigDict(extra="ignore")
    company_id: str = Field(max_length=64)
    # Names are not carried (the service reads them again); a modal of an older bot may still carry them.
    company_name: str = Field(default="", max_length=200)
    channel_id: str = Field(max_length=32)
    connections: list[_Connection] = Field(default_factory=list, max_length=50)
    connection_id: str | None = Field(default=None, max_length=64)
    expense_types: list[str] = Field(default_factory=list, max_length=10)
    contact_types: list[str] | None = Field(default=None, max_length=4)
    bank_account: tuple[str, str] | None = None
    receipt_file_ids: list[str] = Field(default_factory=list, max_length=MAX_FILES)
    lines: int = Field(default=1, ge=1, le=100)
    retry_of: str | None = Field(default=None, max_length=64)


def context_from_metadata(metadata: Any) -> ExpenseContext:
    """The context a modal carried; ``Unreadable`` when it is not what the bot put there."""
    try:
        data = _Metadata.model_validate_json(metadata if isinstance(metadata, str) else "")
    except ValidationError:
        raise Unreadable() from None
    return ExpenseContext(
        company_id=data.company_id,
        company_name=data.company_name,
        channel_id=data.channel_id,
        connections=tuple(ConnectionChoice(c.id, c.name, c.base_currency) for c in data.connections),
        connection_id=data.connection_id,
        expense_types=tuple(data.expense_types),
        contact_types=tuple(data.contact_types or ("Supplier", "Customer")),
        bank_account=data.bank_account,
        receipt_file_ids=tuple(f for f in data.receipt_file_ids if _is_id(f)),
        lines=data.lines,
        retry_of=data.retry_of,
    )


# Where a field's error goes when the modal Slack submitted does not show that field (yet): the exchange rate is
# asked for once the currency changes, but a Submit can come before that redraw.
_SHOWN_BESIDE = {ids.CURRENCY_RATE: ids.CURRENCY}
# Where a refusal of the whole modal goes when the view names no input.
_FIRST_FIELD = ids.TYPE


def _inputs(view: dict[str, Any]) -> list[str]:
    return [
        str(block["block_id"])
        for block in view.get("blocks") or []
        if isinstance(block, dict) and block.get("type") == "input" and isinstance(block.get("block_id"), str)
    ]


def placed_errors(form_errors: Mapping[str, str], view: dict[str, Any]) -> dict[str, str]:
    """The form's errors keyed by input blocks the submitted view has: Slack refuses the whole answer (and shows
    the person none of it) if one names a block it does not show. "lines" is said at the first line's account,
    Slack showing errors only next to input blocks."""
    errors = dict(form_errors)
    if ids.LINES in errors:
        said, first_account = errors.pop(ids.LINES), line_field(0, ids.ACCOUNT)
        errors[first_account] = f"{said} {errors.get(first_account, '')}".strip()
    inputs = _inputs(view)
    if not inputs:
        return errors
    placed: dict[str, str] = {}
    for field, said in errors.items():
        target = field if field in inputs else _SHOWN_BESIDE.get(field, inputs[0])
        target = target if target in inputs else inputs[0]
        placed[target] = f"{placed[target]} {said}" if target in placed else said
    return placed


def first_field(view: dict[str, Any]) -> str:
    """Where a refusal of the whole modal is shown: its first input (Slack shows errors only there)."""
    inputs = _inputs(view)
    return inputs[0] if inputs else _FIRST_FIELD


def not_yet_typed(prefill: dict[str, Any], values: dict[str, Any], *, today: str, base_currency: str) -> dict[str, Any]:
    """Of what was read from a receipt, what may still go into a modal whose state is ``values``: a field the
    person has typed or chosen (a date other than today, a currency other than the base) keeps theirs."""
    typed = {
        "merchant": bool(text_value(values, ids.MERCHANT)),
        "issue_date": _date(values) not in (None, today),
        "currency": chosen_currency(values) not in (None, base_currency),
    }
    kept = {key: value for key, value in prefill.items() if key != "lines" and not typed.get(key, False)}
    line = dict((prefill.get("lines") or [{}])[0])
    for name in (ids.NET, ids.TAX):
        if text_value(values, line_field(0, name)):
            line.pop(name, None)
    if line:
        kept["lines"] = [line]
    return kept
