"""Codat's Sync for Expenses API: an async client, its models and its errors as the bot's typed errors."""

from codat.client import DEFAULT_BASE_URL, CodatClient
from codat.errors import ForbiddenError, PaymentRequiredError, RequestTimeoutError, codat_error_from_response

__all__ = [
    "DEFAULT_BASE_URL",
    "CodatClient",
    "ForbiddenError",
    "PaymentRequiredError",
    "RequestTimeoutError",
    "codat_error_from_response",
]
