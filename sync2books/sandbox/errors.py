"""The contract's error body, for every non-2xx answer the sandbox gives."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sync2books import wire
from sync2books.models import ErrorBody, ErrorDetail, ErrorEnvelope


class ApiError(Exception):
    """Raised by a route to answer with the contract's error body."""

    def __init__(self, status: int, code: str, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class JSONResponse(Response):
    """JSON with exact decimals and camelCase names, for models and plain data alike."""

    media_type = "application/json"

    def render(self, content: object) -> bytes:
        return wire.dumps(content)


def error_response(
    request: Request, status: int, code: str, message: str, details: list[ErrorDetail] | None = None
) -> Response:
    request_id = getattr(request.state, "request_id", None)
    body = ErrorEnvelope(error=ErrorBody(code=code, message=message, details=details or [], request_id=request_id))
    return JSONResponse(body, status_code=status)
