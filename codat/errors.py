"""Codat's error answers, as typed errors of Codat's own.

Codat answers every failure with its ``ErrorMessage`` body (``statusCode``, ``service``, ``error``,
``correlationId``, ``canBeRetried``, ``validation``). Each becomes a ``CodatAPIError`` subclass: the
``message`` is Codat's ``error`` text, ``request_id`` its ``correlationId``, ``details`` its validation
errors. Messages are built from the body only, never from headers, so they cannot carry the API key.
"""

from __future__ import annotations

from http import HTTPStatus

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from apiclient import wire
from apiclient.errors import ServiceAPIError, ServiceError, ServiceTransportError
from apiclient.retry import retry_after_seconds
from codat.models import CodatErrorMessage


class ErrorDetail(BaseModel):
    """One thing Codat's validation names: the item (a transaction id, a field) and what is wrong with it."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class CodatError(ServiceError):
    """Anything that stopped a Codat call."""


class CodatTransportError(CodatError, ServiceTransportError):
    """Codat could not be reached, or did not answer in time, after every retry."""


class CodatAPIError(CodatError, ServiceAPIError[ErrorDetail]):
    """A non-2xx answer from Codat (or one that is not what the spec says)."""


class BadRequestError(CodatAPIError):
    """400: the request is not what the call takes."""


class UnauthorizedError(CodatAPIError):
    """401: the API key is missing or unknown."""


class PaymentRequiredError(CodatAPIError):
    """402 ``payment_required``: an account limit of the Codat plan (e.g. the Free plan's 50 companies)."""


class ForbiddenError(CodatAPIError):
    """403 ``forbidden``: an outdated API key, or one not associated with that resource."""


class NotFoundError(CodatAPIError):
    """404: no such company, connection, sync or transaction on this key."""


class ConflictError(CodatAPIError):
    """409: the call conflicts with what Codat holds."""


class PayloadTooLargeError(CodatAPIError):
    """413: the attachment is over the size limit."""


class UnsupportedMediaTypeError(CodatAPIError):
    """415: the attachment's type is not accepted."""


class ValidationFailedError(CodatAPIError):
    """422, or a 400 with validation errors: ``details`` names every refused item."""


class RateLimitedError(CodatAPIError):
    """429: too many requests; ``retry_after`` says how long to wait."""


class ServerError(CodatAPIError):
    """5xx: a fault on Codat's side; safe to retry idempotent calls."""


class RequestTimeoutError(ServerError):
    """408 ``timeout``: Codat gave up waiting; retried like a 5xx."""


# status → (error class, code); 5xx other than 503 are ServerError "internal_error".
_BY_STATUS: dict[int, tuple[type[CodatAPIError], str]] = {
    400: (BadRequestError, "bad_request"),
    401: (UnauthorizedError, "unauthorized"),
    402: (PaymentRequiredError, "payment_required"),
    403: (ForbiddenError, "forbidden"),
    404: (NotFoundError, "not_found"),
    408: (RequestTimeoutError, "timeout"),
    409: (ConflictError, "conflict"),
    413: (PayloadTooLargeError, "payload_too_large"),
    415: (UnsupportedMediaTypeError, "unsupported_media_type"),
    422: (ValidationFailedError, "validation_error"),
    429: (RateLimitedError, "rate_limited"),
    503: (ServerError, "unavailable"),
}


def parse_error_message(response: httpx.Response) -> CodatErrorMessage | None:
    """Codat's ``ErrorMessage`` body, or ``None`` when the body is not JSON or not that shape."""
    try:
        body = wire.loads(response.content)
    except wire.NotJSONError:
        return None
    if not isinstance(body, dict):
        return None
    try:
        return CodatErrorMessage.model_validate(body)
    except ValidationError:
        return None


def _details(error: CodatErrorMessage | None) -> list[ErrorDetail]:
    if error is None or error.validation is None:
        return []
    return [
        ErrorDetail(field=item.item_id or item.validator_name or "", message=item.message or "is not valid")
        for item in error.validation.errors or []
    ]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def codat_error_from_response(response: httpx.Response) -> CodatAPIError:
    """The typed error for a non-2xx answer from Codat, whether or not its body is Codat's ErrorMessage."""
    status = response.status_code
    error = parse_error_message(response)
    details = _details(error)
    if status == 400 and details:
        kind: type[CodatAPIError] = ValidationFailedError
        code = "validation_error"
    elif status in _BY_STATUS:
        kind, code = _BY_STATUS[status]
    elif status >= 500:
        kind, code = ServerError, "internal_error"
    else:
        kind, code = CodatAPIError, f"http_{status}"
    text = (error.error or "").strip() if error is not None else ""
    if not text:
        reason = response.reason_phrase or _reason(status)
        text = " ".join(f"Codat answered {status} {reason}".split()) + " without an error body"
    request_id = error.correlation_id if error is not None and error.correlation_id else None
    return kind(status, code, text, details, request_id, retry_after_seconds(response))


__all__ = [
    "BadRequestError",
    "CodatAPIError",
    "CodatError",
    "CodatTransportError",
    "ConflictError",
    "ErrorDetail",
    "ForbiddenError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PaymentRequiredError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
    "ValidationFailedError",
    "codat_error_from_response",
    "parse_error_message",
]
