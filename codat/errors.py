"""Codat's error answers, as the typed errors the bot already handles for Sync2Books.

Codat answers every failure with its ``ErrorMessage`` body (``statusCode``, ``service``, ``error``,
``correlationId``, ``canBeRetried``, ``validation``). Each becomes a ``Sync2BooksAPIError`` subclass: the
``message`` is Codat's ``error`` text, ``request_id`` its ``correlationId``, ``details`` its validation
errors. Messages are built from the body only, never from headers, so they cannot carry the API key.
"""

from __future__ import annotations

from http import HTTPStatus

import httpx
from pydantic import ValidationError

from codat.models import CodatErrorMessage
from sync2books import wire
from sync2books.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    Sync2BooksAPIError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
    retry_after_seconds,
)
from sync2books.models import ErrorDetail


class PaymentRequiredError(Sync2BooksAPIError):
    """402 ``payment_required``: an account limit of the Codat plan (e.g. the Free plan's 50 companies)."""


class ForbiddenError(Sync2BooksAPIError):
    """403 ``forbidden``: an outdated API key, or one not associated with that resource."""


class RequestTimeoutError(ServerError):
    """408 ``timeout``: Codat gave up waiting; retried like a 5xx."""


# status → (error class, code); 5xx other than 503 are ServerError "internal_error".
_BY_STATUS: dict[int, tuple[type[Sync2BooksAPIError], str]] = {
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


def codat_error_from_response(response: httpx.Response) -> Sync2BooksAPIError:
    """The typed error for a non-2xx answer from Codat, whether or not its body is Codat's ErrorMessage."""
    status = response.status_code
    error = parse_error_message(response)
    details = _details(error)
    if status == 400 and details:
        kind: type[Sync2BooksAPIError] = ValidationFailedError
        code = "validation_error"
    elif status in _BY_STATUS:
        kind, code = _BY_STATUS[status]
    elif status >= 500:
        kind, code = ServerError, "internal_error"
    else:
        kind, code = Sync2BooksAPIError, f"http_{status}"
    text = (error.error or "").strip() if error is not None else ""
    if not text:
        reason = response.reason_phrase or _reason(status)
        text = " ".join(f"Codat answered {status} {reason}".split()) + " without an error body"
    request_id = error.correlation_id if error is not None and error.correlation_id else None
    return kind(status, code, text, details, request_id, retry_after_seconds(response))


__all__ = [
    "ForbiddenError",
    "PaymentRequiredError",
    "RequestTimeoutError",
    "codat_error_from_response",
    "parse_error_message",
]
