"""JSON on the wire with exact decimals.

The contract sends money as JSON numbers and forbids binary floats in between, which the stdlib
cannot do in both directions: we parse every non-integer number as ``Decimal`` and write ``Decimal``
back as the same digits (simplejson's ``use_decimal``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import simplejson
from pydantic import BaseModel


class NotJSONError(ValueError):
    """The bytes are not a JSON document."""


def _refuse_constant(name: str) -> Any:
    raise NotJSONError(f"{name} is not a JSON number")


def loads(data: bytes | str) -> Any:
    """Parse JSON; fractions become Decimal, NaN and Infinity are refused."""
    try:
        return simplejson.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)
    except (simplejson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotJSONError(str(exc)) from None


def utc_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as the contract writes timestamps."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return to_data(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_data(model: BaseModel, *, exclude_none: bool = False) -> Any:
    """The model as plain Python data under its wire names, decimals kept as Decimal."""
    return model.model_dump(mode="python", by_alias=True, exclude_none=exclude_none)


def dumps(value: Any, *, exclude_none: bool = False) -> bytes:
    """Serialize models, lists of models or plain data to UTF-8 JSON with exact decimals."""
    if isinstance(value, BaseModel):
        value = to_data(value, exclude_none=exclude_none)
    elif isinstance(value, list):
        value = [to_data(v, exclude_none=exclude_none) if isinstance(v, BaseModel) else v for v in value]
    text = simplejson.dumps(value, use_decimal=True, default=_default, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")
