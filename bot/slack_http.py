"""``POST /slack/events``: nothing from outside reaches Bolt before it is bounded, signed and readable.

In this order, each step refusing with a 4xx and one log line, never a 500 or a traceback:
1. the declared size, before a byte of the body is read (Slack's payloads are far below the limit);
2. the signature headers' shape and the timestamp's age, before the body is read;
3. the body, read up to the limit and no further (a body without a declared size is cut off there);
4. the signature, on the raw bytes (constant-time comparison);
5. the body's form: UTF-8, and the JSON where Slack puts JSON. Only then does Bolt parse it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp

from slack_ui.payloads import form_payload, payload_problem

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# Slack refuses requests older than five minutes itself; a replay after that is refused here too.
MAX_AGE_SECONDS = 60 * 5
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_SIGNATURE = re.compile(r"^v0=[0-9a-f]{64}$")


class Refused(Exception):
    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def _declared_size(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isascii() or not declared.isdigit() or len(declared) > 12:
        raise Refused(400, "invalid_content_length")
    return int(declared)


def _signature_headers(request: Request, now: float) -> tuple[str, str]:
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not _TIMESTAMP.match(timestamp) or not _SIGNATURE.match(signature):
        raise Refused(401, "invalid_signature")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise Refused(401, "stale_request")
    return timestamp, signature


async def _bounded_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refused(413, "body_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _check_signature(secret: bytes, timestamp: str, body: bytes, signature: str) -> None:
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise Refused(401, "invalid_signature")


def _parse(body: bytes, content_type: str) -> dict[str, Any]:
    """The payload as Bolt will see it; Refused for what Bolt would choke on: not UTF-8, or JSON that is
    not an object where Slack sends one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "invalid_encoding") from None
    try:
        if content_type.startswith("application/json"):
            document = json.loads(text)
        else:
            fields = parse_qs(text)
            payloads = fields.get("payload")
            if payloads is None:
                return form_payload(fields)  # a slash command: plain form fields
            if len(payloads) != 1:
                raise Refused(400, "invalid_payload")
            document = json.loads(payloads[0])
    except ValueError:
        raise Refused(400, "invalid_payload") from None
    if not isinstance(document, dict):
        raise Refused(400, "invalid_payload")
    return document


class SlackEndpoint:
    """The guard in front of Bolt for HTTP mode."""

    def __init__(self, bolt: AsyncApp, signing_secret: str) -> None:
        self._bolt = bolt
        self._secret = signing_secret.encode()

    async def handle(self, request: Request) -> Response:
        try:
            declared = _declared_size(request)
            if declared is not None and declared > MAX_BODY_BYTES:
                raise Refused(413, "body_too_large")
            timestamp, signature = _signature_headers(request, time.time())
            body = await _bounded_body(request)
            _check_signature(self._secret, timestamp, body, signature)
            payload = _parse(body, request.headers.get("content-type", "").lower())
            # Bolt reads some fields before any middleware of ours runs: their shape is checked here.
            problem = payload_problem(payload)
            if problem is not None:
                raise Refused(400, f"malformed_payload:{problem}")
        except Refused as refused:
            log.warning("refused a request to /slack/events: %s", refused.error)
            return JSONResponse({"error": refused.error}, status_code=refused.status)
        try:
            bolt_response = await self._bolt.async_dispatch(to_async_bolt_request(request, body))
        except Exception as exc:  # the last line: a signed payload Bolt cannot take is a 400, said in one line
            log.error("Bolt could not handle a signed request: %s: %s", type(exc).__name__, exc)
            return JSONResponse({"error": "unreadable_payload"}, status_code=400)
        return to_starlette_response(bolt_response)
