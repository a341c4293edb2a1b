"""What can go wrong talking to Sync2Books, as exceptions that say so.

Every answer that is not 2xx becomes a ``Sync2BooksAPIError`` subclass carrying the contract's
``code``, ``details`` and ``requestId``; a network failure that outlasts the retries becomes a
``Sync2BooksTransportError``. No message ever contains the API key: messages are built from the
answer's body and the request's method and path, never from headers.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from apiclient import wire
from apiclient.errors import ServiceAPIError, ServiceError, ServiceTransportError
from apiclient.retry import retry_after_seconds
from sync2books.models import ErrorDetail, ErrorEnvelope


class Sync2BooksError(ServiceError):
    """Anything that stopped a Sync2Books call."""


class Sync2BooksTransportError(Sync2BooksError, ServiceTransportError):
    """The service could not be reached, or did not answer in time, after every retry."""


class Sync2BooksAPIError(Sync2BooksError, ServiceAPIError[ErrorDetail]):
    """A non-2xx answer, with the contract's ``code``, ``details`` and ``requestId``."""


class BadRequestError(Sync2BooksAPIError):
    """400: the body is not JSON, or not the shape the call needs."""


class UnauthorizedError(Sync2BooksAPIError):
    """401: the API key is missing or unknown."""


class NotFoundError(Sync2BooksAPIError):
    """404: no such id, or it belongs to another API key."""


class ConflictError(Sync2BooksAPIError):
    """409 ``conflict``: an expense id reused with a different body."""


class ConnectionNotConnectedError(ConflictError):
    """409 ``connection_not_connected``: the connection is DISCONNECTED or in ERROR."""


class PayloadTooLargeError(Sync2BooksAPIError):
    """413: the attachment is over the size limit."""


class UnsupportedMediaTypeError(Sync2BooksAPIError):
    """415: the attachment's type is not accepted."""


class ValidationFailedError(Sync2BooksAPIError):
    """422: ``details`` names every invalid field."""


class RateLimitedError(Sync2BooksAPIError):
    """429: too many requests; ``retry_after`` says how long to wait."""


class ServerError(Sync2BooksAPIError):
    """5xx: a fault on the service's side; safe to retry idempotent calls."""


_BY_CODE: dict[str, type[Sync2BooksAPIError]] = {
    "bad_request": BadRequestError,
    "unauthorized": UnauthorizedError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "connection_not_connected": ConnectionNotConnectedError,
    "payload_too_large": PayloadTooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "validation_error": ValidationFailedError,
    "rate_limited": RateLimitedError,
    "internal_error": ServerError,
    "unavailable": ServerError,
}

_BY_STATUS: dict[int, type[Sync2BooksAPIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: ValidationFailedError,
    429: RateLimitedError,
}


def error_from_response(response: httpx.Response) -> Sync2BooksAPIError:
    """The typed error for a non-2xx answer, whether or not its body follows the contract."""
    status = response.status_code
    request_id = response.headers.get("x-request-id")
    body: Any = None
    try:
        body = wire.loads(response.content)
        envelope = ErrorEnvelope.model_validate(body)
    except (wire.NotJSONError, ValidationError):
        envelope = None
    if envelope is not None:
        code, message = envelope.error.code, envelope.error.message
        details, request_id = envelope.error.details, envelope.error.request_id or request_id
    else:
        code = "internal_error" if status >= 500 else f"http_{status}"
        message = f"Sync2Books answered {status} {response.reason_phrase or ''} without an error body".replace(
            "  ", " "
        )
        details = []
    kind = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else Sync2BooksAPIError)
    return kind(status, code, message, details, request_id, retry_after_seconds(response))
