"""Submitting expenses to a connection, and reading one back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from sync2books.models import (
    MAX_EXPENSES_PER_REQUEST,
    SYNC2BOOKS_EXPENSE_TYPES,
    ErrorDetail,
    Expense,
    ExpensesAccepted,
    ExpenseStatus,
    ExpenseType,
    expense_rule_problems,
    field_path,
    validation_details,
)
from sync2books.sandbox.errors import ApiError, JSONResponse
from sync2books.sandbox.routes.dependencies import PartnerDep, ProcessorDep, StoreDep, connection_or_404, json_body
from sync2books.sandbox.store import StoreError

# Past this many items a request is refused on its size alone, without judging each item.
MAX_ITEMS_JUDGED = 1000

router = APIRouter()


@router.post("/expenses/{connection_id}")
async def post_expenses(
    request: Request, partner: PartnerDep, store: StoreDep, processor: ProcessorDep, connection_id: str
) -> Response:
    connection = await connection_or_404(store, partner, connection_id)
    body = await json_body(request)
    expenses = _validate_expenses(body, connection.base_currency)
    try:
        outcome = await store.accept_expenses(partner, connection, expenses)
    except StoreError as refused:
        raise ApiError(409, refused.code, refused.message) from None
    if outcome.new_batch_id is not None:
        processor.wake()
        answer = ExpensesAccepted(
            sync_batch_id=outcome.new_batch_id, status=ExpenseStatus.QUEUED, expenses=outcome.expenses
        )
        return JSONResponse(answer, status_code=202)
    first = outcome.expenses[0]
    answer = ExpensesAccepted(sync_batch_id=first.sync_batch_id, status=first.status, expenses=outcome.expenses)
    return JSONResponse(answer, status_code=200)


@router.get("/expenses/{connection_id}/{expense_id}")
async def get_expense(partner: PartnerDep, store: StoreDep, connection_id: str, expense_id: str) -> Response:
    connection = await connection_or_404(store, partner, connection_id)
    record = await store.get_expense(connection, expense_id)
    if record is None:
        raise ApiError(404, "not_found", f"No expense {expense_id} on this connection")
    return JSONResponse(record)


_EXPENSE = TypeAdapter(Expense)


def _validate_expenses(body: Any, base_currency: str) -> list[Expense]:
    """Every problem of the request at once; nothing is queued unless every item is valid."""
    if isinstance(body, dict):
        items, indexed = [body], False
    elif isinstance(body, list):
        items, indexed = body, True
    else:
        raise ApiError(400, "bad_request", "The request body must be an expense object or an array of them")
    details: list[ErrorDetail] = []
    if not 1 <= len(items) <= MAX_EXPENSES_PER_REQUEST:
        details.append(
            ErrorDetail(field="body", message=f"must hold 1 to {MAX_EXPENSES_PER_REQUEST} expenses, not {len(items)}")
        )
        if len(items) > MAX_ITEMS_JUDGED:
            raise ApiError(422, "validation_error", "The expenses are not valid", details)
    expenses: list[Expense] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        prefix: tuple[int | str, ...] = (index,) if indexed else ()
        if not isinstance(item, dict):
            details.append(ErrorDetail(field=field_path(prefix), message="must be an expense object"))
            continue
        if "type" in item and item["type"] not in SYNC2BOOKS_EXPENSE_TYPES:
            # The shared model knows Codat's types too; Sync2Books takes only its own two.
            details.append(
                ErrorDetail(field=field_path((*prefix, "type")), message="must be 'Payment' or 'DirectCost'")
            )
            item = {**item, "type": ExpenseType.PAYMENT.value}
        try:
            expense = _EXPENSE.validate_python(item)
        except ValidationError as exc:
            details.extend(validation_details(exc, prefix))
        else:
            expenses.append(expense)
            if expense.id in seen:
                details.append(ErrorDetail(field=field_path((*prefix, "id")), message="appears twice in this request"))
            seen.add(expense.id)
        path_prefix = field_path(prefix) if prefix else ""
        details.extend(expense_rule_problems(item, base_currency, f"{path_prefix}." if path_prefix else ""))
    if details:
        raise ApiError(422, "validation_error", "The expenses are not valid", details)
    return expenses
