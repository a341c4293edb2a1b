"""Codat's Sync for Expenses API: an async client, its models and its own typed errors."""

from codat.client import DEFAULT_BASE_URL, CodatClient
from codat.errors import (
    CodatAPIError,
    CodatError,
    ForbiddenError,
    PaymentRequiredError,
    RequestTimeoutError,
    codat_error_from_response,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "CodatAPIError",
    "CodatClient",
    "CodatError",
    "ForbiddenError",
    "PaymentRequiredError",
    "RequestTimeoutError",
    "codat_error_from_response",
]
