"""The shape every service's typed errors take; each service's client defines its own classes on these bases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar


class FieldProblem(Protocol):
    """One field an answer names as wrong, and why."""

    @property
    def field(self) -> str: ...

    @property
    def message(self) -> str: ...


D = TypeVar("D", bound=FieldProblem)


class ServiceError(Exception):
    """Anything that stopped a call to an outside service."""


class ServiceTransportError(ServiceError):
    """The service could not be reached, or did not answer in time, after every retry."""


class ServiceAPIError(ServiceError, Generic[D]):
    """An answer that is not 2xx: its status, the service's error code and message, the fields it names."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[D] | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details: list[D] = list(details or [])
        self.request_id = request_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        return describe(self.status, self.code, self.message, self.details, self.request_id)


def describe(
    status: int, code: str, message: str, details: Sequence[FieldProblem], request_id: str | None = None
) -> str:
    """An error answer in one line: ``422 validation_error: … (field why; …) [request …]``; never a header."""
    text = f"{status} {code}: {message}"
    if details:
        text += " (" + "; ".join(f"{d.field} {d.message}" for d in details) + ")"
    if request_id:
        text += f" [request {request_id}]"
    return text
