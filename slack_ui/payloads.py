"""The shape every payload must have before a listener sees it.

Slack fills these fields, but a request is input like any other: a payload without a user, with a view
that is not an object or with metadata past Slack's own limit is answered with a plain 400 here, so no
listener ever meets a missing key or a value of the wrong type at the top level. What lies deeper (the
values typed into a modal) is read defensively where it is read (``expense_state``).
"""

from __future__ import annotations

import re
from typing import Any

from slack_ui.text import SLACK_CHANNEL_ID, SLACK_USER_ID

# Slack's own limits, with room: a command's text, a view's metadata, a suggestion's query.
MAX_COMMAND_TEXT = 4000
MAX_METADATA = 3000
MAX_QUERY = 500
MAX_ACTIONS = 25
MAX_FILES = 20
UNREADABLE = "Sync2Books could not read that request from Slack, so nothing was done. Please try again."


def _text(value: Any, *, limit: int = 255, pattern: re.Pattern[str] | None = None) -> bool:
    return isinstance(value, str) and len(value) <= limit and (pattern is None or bool(pattern.match(value)))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _command_problem(body: dict[str, Any]) -> str | None:
    if not _text(body.get("user_id"), pattern=SLACK_USER_ID):
        return "user_id"
    if not _text(body.get("channel_id"), pattern=SLACK_CHANNEL_ID):
        return "channel_id"
    if not _text(body.get("text", ""), limit=MAX_COMMAND_TEXT):
        return "text"
    return None


def _interaction_problem(body: dict[str, Any]) -> str | None:
    if not _text(_dict(body.get("user")).get("id"), pattern=SLACK_USER_ID):
        return "user"
    kind = body.get("type")
    if "view" in body or kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict) or not _text(view.get("id", ""), limit=64):
            return "view"
        if not _text(view.get("type", "modal"), limit=32):
            return "view.type"
        if not _text(view.get("private_metadata", ""), limit=MAX_METADATA):
            return "view.private_metadata"
        state = view.get("state", {})
        if not isinstance(state, dict) or not isinstance(state.get("values", {}), dict):
            return "view.state"
    if kind == "block_actions":
        actions = body.get("actions")
        if not isinstance(actions, list) or not 0 < len(actions) <= MAX_ACTIONS:
            return "actions"
        if not all(isinstance(a, dict) and _text(a.get("action_id")) for a in actions):
            return "actions"
        if "channel" in body and not _text(_dict(body.get("channel")).get("id"), pattern=SLACK_CHANNEL_ID):
            return "channel"
    if kind == "block_suggestion" and not (
        _text(body.get("action_id")) and _text(body.get("value", ""), limit=MAX_QUERY)
    ):
        return "block_suggestion"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if not isinstance(event, dict) or not _text(body.get("event_id", ""), limit=64):
        return "event"
    if not _text(event.get("type"), limit=64):
        return "event.type"
    authorizations = body.get("authorizations", [{}])
    if not isinstance(authorizations, list) or not authorizations or not isinstance(authorizations[0], dict):
        return "authorizations"
    files = event.get("files", [])
    if not isinstance(files, list) or len(files) > MAX_FILES or not all(isinstance(f, dict) for f in files):
        return "event.files"
    for key in ("channel", "user", "ts", "thread_ts", "tab"):
        if key in event and not _text(event[key], limit=64):
            return f"event.{key}"
    return None


def form_payload(fields: dict[str, list[str]]) -> dict[str, Any]:
    """A form body as Bolt reads it: each field's first value."""
    return {name: values[0] for name, values in fields.items()}


def payload_problem(body: dict[str, Any]) -> str | None:
    """The first top-level field that is missing, of the wrong type or past its bound; None when all fit."""
    if "command" in body:
        return _command_problem(body)
    if body.get("type") == "event_callback":
        return _event_problem(body)
    if body.get("type") == "url_verification" or "ssl_check" in body:
        return None
    return _interaction_problem(body)
